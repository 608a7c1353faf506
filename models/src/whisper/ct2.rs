//! A reader for CTranslate2's `model.bin` and the mapping of a converted
//! Whisper model (faster-whisper's format) onto transformers' state-dict keys.
//!
//! The file format, as written by `ModelSpec._serialize` in CTranslate2's
//! `python/ctranslate2/specs/model_spec.py` and read by `Model::load` in
//! `src/models/model.cc` (all integers little-endian; a string is a `u16`
//! byte count that includes a trailing NUL, then the bytes and the NUL):
//!
//! ```text
//! u32 binary version (1 to 6)
//! string spec name, u32 spec revision          (version >= 2)
//! u32 variable count, then per variable:
//!   string name, u8 rank, u32 × rank dimensions,
//!   u8 dtype id, u32 byte count                (version >= 4; dtype ids:
//!                                               0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16)
//!   u8 item size, u32 element count            (version < 4)
//!   the bytes
//! u32 alias count, then per alias:             (version >= 3)
//!   string alias, string variable name
//! ```
//!
//! A quantised weight `X/weight` (int8 or int16) comes with `X/weight_scale`
//! (one f32 per output row for int8, a scalar for int16) and is restored as
//! `weight / scale`, which is how the converter made it (`_quantize` in
//! `model_spec.py`). An alias (a variable equal to another one, such as the
//! output projection tied to the token embeddings) also aliases the scale.
//!
//! Where CTranslate2's `WhisperLoader` (`converters/transformers.py`) puts
//! each of transformers' weights, and so where [`whisper_tensors`] takes them from:
//!
//! ```text
//! model.encoder.conv{1,2}.{weight,bias}          encoder/conv{1,2}/{weight,bias}
//! model.encoder.embed_positions.weight           encoder/position_encodings/encodings
//! model.{encoder,decoder}.layer_norm             {encoder,decoder}/layer_norm/{gamma,beta}
//! model.encoder.layers.N.self_attn.{q,k,v}_proj  encoder/layer_N/self_attention/linear_0 (rows q | k | v)
//! ….self_attn.out_proj                           …/self_attention/linear_1
//! ….self_attn_layer_norm                         …/self_attention/layer_norm
//! ….fc1, ….fc2, ….final_layer_norm               …/ffn/linear_0, …/ffn/linear_1, …/ffn/layer_norm
//! model.decoder.layers.N.encoder_attn.q_proj     decoder/layer_N/attention/linear_0
//! ….encoder_attn.{k,v}_proj                      …/attention/linear_1 (rows k | v)
//! ….encoder_attn.out_proj                        …/attention/linear_2
//! ….encoder_attn_layer_norm                      …/attention/layer_norm
//! model.decoder.embed_tokens.weight              decoder/embeddings/weight
//! model.decoder.embed_positions.weight           decoder/position_encodings/encodings
//! proj_out.weight                                decoder/projection/weight
//! ```
//!
//! When `decoder/projection/weight` is an alias of the embeddings (as
//! converted checkpoints have it), `proj_out.weight` is the embeddings'
//! tensor itself, not a copy.
//!
//! transformers' `k_proj` has no bias; the fused bias holds zeros in its place.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use super::config::WhisperConfig;
use crate::error::LoadError;

/// The newest binary version this reader knows (CTranslate2's `CURRENT_BINARY_VERSION`).
pub const MAX_BINARY_VERSION: u32 = 6;

/// The element type of a stored variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2DType {
    /// `float32`.
    F32,
    /// `int8` (quantised weights, with a `_scale`).
    I8,
    /// `int16` (quantised weights, with a scalar `_scale`; also integer attributes).
    I16,
    /// `int32`.
    I32,
    /// `float16`.
    F16,
    /// `bfloat16`.
    BF16,
}

impl Ct2DType {
    fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// One variable of `model.bin`: its shape, type and where its bytes are.
#[derive(Debug, Clone)]
pub struct Ct2Variable {
    /// Dimensions (empty for a scalar attribute such as `encoder/num_heads`).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: Ct2DType,
    /// Byte range in the file.
    range: std::ops::Range<usize>,
}

/// A parsed `model.bin`.
pub struct Ct2Model {
    path: PathBuf,
    bytes: Vec<u8>,
    /// The binary format version.
    pub binary_version: u32,
    /// The spec's name (`"WhisperSpec"`); empty before version 2.
    pub spec: String,
    /// The spec's revision.
    pub revision: u32,
    variables: BTreeMap<String, Ct2Variable>,
    aliases: BTreeMap<String, String>,
}

/// A cursor over the file that names the file, the offset and the item in errors.
struct Cursor<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn err(&self, what: &str) -> LoadError {
        LoadError::Weights {
            path: self.path.to_owned(),
            message: format!(
                "not a CTranslate2 model: {what} at byte {} of {}",
                self.pos,
                self.bytes.len()
            ),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<std::ops::Range<usize>, LoadError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.err(&format!("file ends inside {what} ({n} bytes expected)")))?;
        let r = self.pos..end;
        self.pos = end;
        Ok(r)
    }

    fn u8(&mut self, what: &str) -> Result<u8, LoadError> {
        let r = self.take(1, what)?;
        Ok(self.bytes[r.start])
    }

    fn u16(&mut self, what: &str) -> Result<u16, LoadError> {
        let r = self.take(2, what)?;
        Ok(u16::from_le_bytes([
            self.bytes[r.start],
            self.bytes[r.start + 1],
        ]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, LoadError> {
        let r = self.take(4, what)?;
        let b = &self.bytes[r];
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &str) -> Result<String, LoadError> {
        let n = self.u16(what)? as usize;
        if n == 0 {
            return Err(self.err(&format!(
                "{what} has length 0 (expected a NUL-terminated string)"
            )));
        }
        let r = self.take(n, what)?;
        let b = &self.bytes[r];
        if b[n - 1] != 0 {
            return Err(self.err(&format!("{what} is not NUL-terminated")));
        }
        String::from_utf8(b[..n - 1].to_vec())
            .map_err(|_| self.err(&format!("{what} is not UTF-8")))
    }
}

impl Ct2Model {
    /// Reads and indexes `path` (the whole file is read into memory).
    pub fn open(path: &Path) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, bytes)
    }

    /// Parses the bytes of a `model.bin`; `path` names it in errors.
    pub fn parse(path: &Path, bytes: Vec<u8>) -> Result<Self, LoadError> {
        let mut c = Cursor {
            path,
            bytes: &bytes,
            pos: 0,
        };
        let binary_version = c.u32("the binary version")?;
        if !(1..=MAX_BINARY_VERSION).contains(&binary_version) {
            return Err(LoadError::Weights {
                path: path.to_owned(),
                message: format!(
                    "binary version {binary_version}, expected 1 to {MAX_BINARY_VERSION} \
                     (a newer CTranslate2, or not a model.bin)"
                ),
            });
        }
        let (spec, revision) = if binary_version >= 2 {
            (c.string("the spec name")?, c.u32("the spec revision")?)
        } else {
            (String::new(), 1)
        };
        let count = c.u32("the variable count")?;
        let mut variables = BTreeMap::new();
        for i in 0..count {
            let name = c.string(&format!("the name of variable {i}"))?;
            let rank = c.u8(&format!("the rank of `{name}`"))? as usize;
            let mut shape = Vec::with_capacity(rank);
            for _ in 0..rank {
                shape.push(c.u32(&format!("the shape of `{name}`"))? as usize);
            }
            let (dtype, num_bytes) = if binary_version >= 4 {
                let id = c.u8(&format!("the dtype of `{name}`"))?;
                let dtype = Ct2DType::from_id(id).ok_or_else(|| {
                    c.err(&format!(
                        "`{name}` has dtype id {id} (expected 0 to 5: f32, i8, i16, i32, f16, bf16)"
                    ))
                })?;
                (
                    dtype,
                    c.u32(&format!("the byte count of `{name}`"))? as usize,
                )
            } else {
                let item = c.u8(&format!("the item size of `{name}`"))?;
                // Before version 4 the item size stood for the type (model.cc's get_dtype_from_item_size).
                let dtype = match item {
                    4 => Ct2DType::F32,
                    2 => Ct2DType::I16,
                    1 => Ct2DType::I8,
                    _ => {
                        return Err(c.err(&format!(
                            "`{name}` has item size {item} (expected 1, 2 or 4)"
                        )))
                    }
                };
                let n = c.u32(&format!("the element count of `{name}`"))? as usize;
                (dtype, n * item as usize)
            };
            let elements: usize = shape.iter().product();
            if num_bytes != elements * dtype.size() {
                return Err(c.err(&format!(
                    "`{name}` declares {num_bytes} bytes, but shape {shape:?} of {dtype:?} needs {}",
                    elements * dtype.size()
                )));
            }
            let range = c.take(num_bytes, &format!("the data of `{name}`"))?;
            variables.insert(
                name,
                Ct2Variable {
                    shape,
                    dtype,
                    range,
                },
            );
        }
        let mut aliases = BTreeMap::new();
        if binary_version >= 3 {
            let n = c.u32("the alias count")?;
            for i in 0..n {
                let alias = c.string(&format!("alias {i}"))?;
                let target = c.string(&format!("the target of alias `{alias}`"))?;
                aliases.insert(alias, target);
            }
        }
        if c.pos != bytes.len() {
            return Err(c.err("unexpected trailing bytes"));
        }
        Ok(Self {
            path: path.to_owned(),
            bytes,
            binary_version,
            spec,
            revision,
            variables,
            aliases,
        })
    }

    /// The file this model was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Names of the stored variables (aliases not included), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.variables.keys().map(String::as_str)
    }

    /// The aliases, `alias -> variable`.
    pub fn aliases(&self) -> &BTreeMap<String, String> {
        &self.aliases
    }

    /// The variable `name` or, if `name` is an alias, the one it stands for.
    pub fn variable(&self, name: &str) -> Option<&Ct2Variable> {
        self.variables.get(name).or_else(|| {
            // An alias of `X/weight` also aliases `X/weight_scale` (model.cc).
            let target = self.aliases.get(name).cloned().or_else(|| {
                let (base, suffix) = name.rsplit_once('_')?;
                (suffix == "scale")
                    .then(|| self.aliases.get(base).map(|t| format!("{t}_scale")))
                    .flatten()
            })?;
            self.variables.get(&target)
        })
    }

    fn missing(&self, name: &str, expected: &[usize]) -> LoadError {
        LoadError::MissingTensor {
            path: self.path.clone(),
            key: name.to_owned(),
            expected: expected.to_vec(),
        }
    }

    /// The shape of `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.variable(name).map(|v| v.shape.as_slice())
    }

    /// An integer attribute (a scalar such as `encoder/num_heads`).
    pub fn scalar_int(&self, name: &str) -> Result<i64, LoadError> {
        let v = self.variable(name).ok_or_else(|| self.missing(name, &[]))?;
        let b = &self.bytes[v.range.clone()];
        let value = match (v.shape.is_empty(), v.dtype) {
            (true, Ct2DType::I8) => i64::from(b[0] as i8),
            (true, Ct2DType::I16) => i64::from(i16::from_le_bytes([b[0], b[1]])),
            (true, Ct2DType::I32) => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => {
                return Err(LoadError::Weights {
                    path: self.path.clone(),
                    message: format!(
                        "`{name}` is {:?} of shape {:?}, expected an integer scalar",
                        v.dtype, v.shape
                    ),
                })
            }
        };
        Ok(value)
    }

    /// The values of `name` as f32, dequantised when it is int8 or int16 with
    /// a `_scale`; checks the shape against `expected`.
    pub fn f32_values(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, LoadError> {
        let v = self
            .variable(name)
            .ok_or_else(|| self.missing(name, expected))?;
        if v.shape != expected {
            return Err(LoadError::ShapeMismatch {
                path: self.path.clone(),
                key: name.to_owned(),
                expected: expected.to_vec(),
                found: v.shape.clone(),
            });
        }
        let b = &self.bytes[v.range.clone()];
        let values: Vec<f32> = match v.dtype {
            Ct2DType::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Ct2DType::F16 => b
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Ct2DType::BF16 => b
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            Ct2DType::I8 | Ct2DType::I16 => {
                let q: Vec<f32> = if v.dtype == Ct2DType::I8 {
                    b.iter().map(|&x| f32::from(x as i8)).collect()
                } else {
                    b.chunks_exact(2)
                        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
                        .collect()
                };
                let scale_name = format!("{name}_scale");
                let rows = expected.first().copied().unwrap_or(1);
                let scale_shape: &[usize] = if v.dtype == Ct2DType::I8 {
                    &[rows]
                } else {
                    &[]
                };
                let scale_var = self
                    .variable(&scale_name)
                    .ok_or_else(|| self.missing(&scale_name, scale_shape))?;
                let scales = if scale_var.shape.is_empty() {
                    vec![self.f32_values(&scale_name, &[])?[0]; rows]
                } else {
                    self.f32_values(&scale_name, &[rows])?
                };
                let per_row = q.len() / rows.max(1);
                q.chunks(per_row.max(1))
                    .zip(&scales)
                    .flat_map(|(row, &s)| row.iter().map(move |&x| x / s))
                    .collect()
            }
            Ct2DType::I32 => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
        };
        Ok(values)
    }
}

/// Builds transformers' Whisper hyper-parameters from the shapes and
/// attributes of a converted model (CTranslate2 keeps no `WhisperConfig`).
pub fn whisper_config(model: &Ct2Model) -> Result<WhisperConfig, LoadError> {
    if model.binary_version >= 2 && model.spec != "WhisperSpec" {
        return Err(LoadError::Weights {
            path: model.path.clone(),
            message: format!("spec `{}`, expected `WhisperSpec`", model.spec),
        });
    }
    let shape = |name: &str, rank: usize| -> Result<Vec<usize>, LoadError> {
        let s = model
            .shape(name)
            .ok_or_else(|| model.missing(name, &vec![0; rank]))?;
        if s.len() != rank {
            return Err(LoadError::Weights {
                path: model.path.clone(),
                message: format!("`{name}` has shape {s:?}, expected rank {rank}"),
            });
        }
        Ok(s.to_vec())
    };
    let conv1 = shape("encoder/conv1/weight", 3)?;
    let count = |prefix: &str| {
        (0..)
            .take_while(|i| {
                model
                    .variable(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))
                    .is_some()
            })
            .count()
    };
    let heads = |name: &str| -> Result<usize, LoadError> {
        let h = model.scalar_int(name)?;
        usize::try_from(h)
            .ok()
            .filter(|&h| h > 0)
            .ok_or_else(|| LoadError::Weights {
                path: model.path.clone(),
                message: format!("`{name}` is {h}, expected a positive head count"),
            })
    };
    Ok(WhisperConfig {
        vocab_size: shape("decoder/embeddings/weight", 2)?[0],
        num_mel_bins: conv1[1],
        encoder_layers: count("encoder"),
        encoder_attention_heads: heads("encoder/num_heads")?,
        decoder_layers: count("decoder"),
        decoder_attention_heads: heads("decoder/num_heads")?,
        encoder_ffn_dim: shape("encoder/layer_0/ffn/linear_0/weight", 2)?[0],
        decoder_ffn_dim: shape("decoder/layer_0/ffn/linear_0/weight", 2)?[0],
        d_model: conv1[0],
        max_source_positions: shape("encoder/position_encodings/encodings", 2)?[0],
        max_target_positions: shape("decoder/position_encodings/encodings", 2)?[0],
        activation_function: "gelu".into(),
        scale_embedding: false,
    })
}

/// Every tensor of transformers' `WhisperForConditionalGeneration`, under its
/// state-dict key, taken from a converted model (see the module docs for the
/// mapping); fused projections are split, quantised weights restored to f32.
pub fn whisper_tensors(
    model: &Ct2Model,
    cfg: &WhisperConfig,
    device: &Device,
) -> Result<HashMap<String, Tensor>, LoadError> {
    let d = cfg.d_model;
    let mut m = Mapper {
        model,
        d,
        device,
        out: HashMap::new(),
    };
    let e = "model.encoder";
    m.copy(
        &format!("{e}.conv1.weight"),
        "encoder/conv1/weight",
        &[d, cfg.num_mel_bins, 3],
    )?;
    m.copy(&format!("{e}.conv1.bias"), "encoder/conv1/bias", &[d])?;
    m.copy(
        &format!("{e}.conv2.weight"),
        "encoder/conv2/weight",
        &[d, d, 3],
    )?;
    m.copy(&format!("{e}.conv2.bias"), "encoder/conv2/bias", &[d])?;
    m.copy(
        &format!("{e}.embed_positions.weight"),
        "encoder/position_encodings/encodings",
        &[cfg.max_source_positions, d],
    )?;
    m.norm(&format!("{e}.layer_norm"), "encoder/layer_norm")?;
    for i in 0..cfg.encoder_layers {
        let hf = format!("{e}.layers.{i}");
        let ct = format!("encoder/layer_{i}");
        m.self_attention(&hf, &ct)?;
        m.feed_forward(&hf, &ct, cfg.encoder_ffn_dim)?;
    }
    let dec = "model.decoder";
    m.copy(
        &format!("{dec}.embed_tokens.weight"),
        "decoder/embeddings/weight",
        &[cfg.vocab_size, d],
    )?;
    m.copy(
        &format!("{dec}.embed_positions.weight"),
        "decoder/position_encodings/encodings",
        &[cfg.max_target_positions, d],
    )?;
    m.norm(&format!("{dec}.layer_norm"), "decoder/layer_norm")?;
    for i in 0..cfg.decoder_layers {
        let hf = format!("{dec}.layers.{i}");
        let ct = format!("decoder/layer_{i}");
        m.self_attention(&hf, &ct)?;
        let (a, c) = (format!("{hf}.encoder_attn"), format!("{ct}/attention"));
        m.fused(&format!("{c}/linear_0"), &[(&format!("{a}.q_proj"), true)])?;
        m.fused(
            &format!("{c}/linear_1"),
            &[
                (&format!("{a}.k_proj"), false),
                (&format!("{a}.v_proj"), true),
            ],
        )?;
        m.linear(&format!("{a}.out_proj"), &format!("{c}/linear_2"), d, d)?;
        m.norm(
            &format!("{hf}.encoder_attn_layer_norm"),
            &format!("{c}/layer_norm"),
        )?;
        m.feed_forward(&hf, &ct, cfg.decoder_ffn_dim)?;
    }
    // The projection is usually an alias of the embeddings: then it is the
    // same tensor, held once (tiny's would be another 80 MB in f32).
    let tied = model
        .aliases()
        .get("decoder/projection/weight")
        .is_some_and(|t| t == "decoder/embeddings/weight");
    if tied {
        let embeddings = m.out[&format!("{dec}.embed_tokens.weight")].clone();
        m.out.insert("proj_out.weight".into(), embeddings);
    } else {
        m.copy(
            "proj_out.weight",
            "decoder/projection/weight",
            &[cfg.vocab_size, d],
        )?;
    }
    Ok(m.out)
}

/// Collects transformers' tensors from CTranslate2's variables.
struct Mapper<'a> {
    model: &'a Ct2Model,
    d: usize,
    device: &'a Device,
    out: HashMap<String, Tensor>,
}

impl Mapper<'_> {
    fn put(&mut self, key: &str, values: Vec<f32>, shape: &[usize]) -> Result<(), LoadError> {
        let t =
            Tensor::from_vec(values, shape, self.device).map_err(|source| LoadError::Candle {
                path: self.model.path.clone(),
                source,
            })?;
        self.out.insert(key.to_owned(), t);
        Ok(())
    }

    /// A variable copied whole.
    fn copy(&mut self, hf: &str, ct2: &str, shape: &[usize]) -> Result<(), LoadError> {
        let values = self.model.f32_values(ct2, shape)?;
        self.put(hf, values, shape)
    }

    /// `nn.LayerNorm` from `gamma` / `beta`.
    fn norm(&mut self, hf: &str, ct2: &str) -> Result<(), LoadError> {
        let d = self.d;
        self.copy(&format!("{hf}.weight"), &format!("{ct2}/gamma"), &[d])?;
        self.copy(&format!("{hf}.bias"), &format!("{ct2}/beta"), &[d])
    }

    /// `nn.Linear` with bias.
    fn linear(
        &mut self,
        hf: &str,
        ct2: &str,
        out_dim: usize,
        in_dim: usize,
    ) -> Result<(), LoadError> {
        self.copy(
            &format!("{hf}.weight"),
            &format!("{ct2}/weight"),
            &[out_dim, in_dim],
        )?;
        self.copy(&format!("{hf}.bias"), &format!("{ct2}/bias"), &[out_dim])
    }

    /// `d × d` projections stacked by rows in one CTranslate2 linear; each
    /// part names its transformers module and whether that one has a bias.
    fn fused(&mut self, ct2: &str, parts: &[(&str, bool)]) -> Result<(), LoadError> {
        let d = self.d;
        let rows = d * parts.len();
        let w = self
            .model
            .f32_values(&format!("{ct2}/weight"), &[rows, d])?;
        let bias_name = format!("{ct2}/bias");
        let b = match self.model.variable(&bias_name) {
            Some(_) => Some(self.model.f32_values(&bias_name, &[rows])?),
            None => None,
        };
        for (i, (hf, has_bias)) in parts.iter().enumerate() {
            self.put(
                &format!("{hf}.weight"),
                w[i * d * d..(i + 1) * d * d].to_vec(),
                &[d, d],
            )?;
            if *has_bias {
                let values = match &b {
                    Some(b) => b[i * d..(i + 1) * d].to_vec(),
                    None => vec![0.0; d],
                };
                self.put(&format!("{hf}.bias"), values, &[d])?;
            }
        }
        Ok(())
    }

    /// `self_attn.{q,k,v,out}_proj` and `self_attn_layer_norm` from `self_attention/`.
    fn self_attention(&mut self, hf: &str, ct: &str) -> Result<(), LoadError> {
        let a = format!("{hf}.self_attn");
        self.fused(
            &format!("{ct}/self_attention/linear_0"),
            &[
                (&format!("{a}.q_proj"), true),
                (&format!("{a}.k_proj"), false),
                (&format!("{a}.v_proj"), true),
            ],
        )?;
        let d = self.d;
        self.linear(
            &format!("{a}.out_proj"),
            &format!("{ct}/self_attention/linear_1"),
            d,
            d,
        )?;
        self.norm(
            &format!("{hf}.self_attn_layer_norm"),
            &format!("{ct}/self_attention/layer_norm"),
        )
    }

    /// `fc1`, `fc2` and `final_layer_norm` from `ffn/{linear_0, linear_1, layer_norm}`.
    fn feed_forward(&mut self, hf: &str, ct: &str, ffn: usize) -> Result<(), LoadError> {
        let d = self.d;
        self.linear(&format!("{hf}.fc1"), &format!("{ct}/ffn/linear_0"), ffn, d)?;
        self.linear(&format!("{hf}.fc2"), &format!("{ct}/ffn/linear_1"), d, ffn)?;
        self.norm(
            &format!("{hf}.final_layer_norm"),
            &format!("{ct}/ffn/layer_norm"),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{whisper_config, Ct2Model};
    use crate::error::LoadError;

    /// One variable to write: name, shape, dtype id, raw bytes.
    struct Var(&'static str, Vec<u32>, u8, Vec<u8>);

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend(((s.len() + 1) as u16).to_le_bytes());
        out.extend(s.as_bytes());
        out.push(0);
    }

    /// A `model.bin` as `ModelSpec._serialize` writes it (version >= 4).
    fn model_bin(version: u32, spec: &str, vars: &[Var], aliases: &[(&str, &str)]) -> Vec<u8> {
        let mut out = version.to_le_bytes().to_vec();
        string(&mut out, spec);
        out.extend(3u32.to_le_bytes());
        out.extend((vars.len() as u32).to_le_bytes());
        for Var(name, shape, dtype, bytes) in vars {
            string(&mut out, name);
            out.push(shape.len() as u8);
            for d in shape {
                out.extend(d.to_le_bytes());
            }
            out.push(*dtype);
            out.extend((bytes.len() as u32).to_le_bytes());
            out.extend(bytes);
        }
        out.extend((aliases.len() as u32).to_le_bytes());
        for (alias, target) in aliases {
            string(&mut out, alias);
            string(&mut out, target);
        }
        out
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn sample() -> Vec<u8> {
        let half: Vec<u8> = [0.5f32, -2.0]
            .iter()
            .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
            .collect();
        let bf: Vec<u8> = [1.5f32]
            .iter()
            .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
            .collect();
        model_bin(
            6,
            "WhisperSpec",
            &[
                // int8 rows scaled by 127 / max|row|, as `_quantize` does.
                Var("a/weight", vec![2, 2], 1, vec![127, 0x81, 64, 127]),
                Var("a/weight_scale", vec![2], 0, f32s(&[127.0, 63.5])),
                Var("b/weight", vec![2], 4, half),
                Var("c/bias", vec![1], 5, bf),
                Var("encoder/num_heads", vec![], 2, 6i16.to_le_bytes().to_vec()),
            ],
            &[("z/weight", "a/weight")],
        )
    }

    #[test]
    fn reads_int8_with_scales_float16_bfloat16_scalars_and_aliases() {
        let m = Ct2Model::parse(Path::new("m/model.bin"), sample()).unwrap();
        assert_eq!(
            (m.binary_version, m.spec.as_str(), m.revision),
            (6, "WhisperSpec", 3)
        );
        assert_eq!(
            m.f32_values("a/weight", &[2, 2]).unwrap(),
            vec![1.0, -1.0, 64.0 / 63.5, 2.0]
        );
        assert_eq!(m.f32_values("b/weight", &[2]).unwrap(), vec![0.5, -2.0]);
        assert_eq!(m.f32_values("c/bias", &[1]).unwrap(), vec![1.5]);
        assert_eq!(m.scalar_int("encoder/num_heads").unwrap(), 6);
        // The alias resolves, and so does its scale.
        assert_eq!(
            m.f32_values("z/weight", &[2, 2]).unwrap(),
            m.f32_values("a/weight", &[2, 2]).unwrap()
        );
    }

    #[test]
    fn a_wrong_shape_names_the_file_the_variable_and_both_shapes() {
        let m = Ct2Model::parse(Path::new("m/model.bin"), sample()).unwrap();
        match m.f32_values("b/weight", &[3]) {
            Err(LoadError::ShapeMismatch {
                path,
                key,
                expected,
                found,
            }) => {
                assert_eq!(path, Path::new("m/model.bin"));
                assert_eq!(key, "b/weight");
                assert_eq!((expected, found), (vec![3], vec![2]));
            }
            other => panic!("expected a shape mismatch, got {:?}", other.err()),
        }
        match m.f32_values("nope/weight", &[4]) {
            Err(LoadError::MissingTensor { key, expected, .. }) => {
                assert_eq!((key.as_str(), expected), ("nope/weight", vec![4]))
            }
            other => panic!("expected a missing tensor, got {:?}", other.err()),
        }
    }

    fn parse_err(bytes: Vec<u8>) -> String {
        let e = Ct2Model::parse(Path::new("m/model.bin"), bytes)
            .err()
            .expect("must fail");
        assert!(matches!(e, LoadError::Weights { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("m/model.bin"), "{text}");
        text
    }

    #[test]
    fn a_truncated_file_says_where_it_ends() {
        let bytes = sample();
        let text = parse_err(bytes[..bytes.len() - 30].to_vec());
        assert!(text.contains("file ends inside"), "{text}");
    }

    #[test]
    fn a_newer_binary_version_is_refused() {
        let text = parse_err(model_bin(7, "WhisperSpec", &[], &[]));
        assert!(text.contains("binary version 7, expected 1 to 6"), "{text}");
    }

    #[test]
    fn a_payload_that_disagrees_with_the_shape_is_named() {
        let text = parse_err(model_bin(
            6,
            "WhisperSpec",
            &[Var("w", vec![3], 0, f32s(&[1.0, 2.0]))],
            &[],
        ));
        assert!(text.contains("`w` declares 8 bytes"), "{text}");
    }

    #[test]
    fn an_unknown_dtype_is_named() {
        let text = parse_err(model_bin(
            6,
            "WhisperSpec",
            &[Var("w", vec![1], 9, vec![0])],
            &[],
        ));
        assert!(text.contains("`w` has dtype id 9"), "{text}");
    }

    #[test]
    fn another_spec_is_not_taken_for_whisper() {
        let m = Ct2Model::parse(
            Path::new("m/model.bin"),
            model_bin(6, "TransformerSpec", &[], &[]),
        )
        .unwrap();
        let e = whisper_config(&m).expect_err("must fail");
        assert!(
            e.to_string()
                .contains("spec `TransformerSpec`, expected `WhisperSpec`"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_whisper_variable_is_named() {
        let m = Ct2Model::parse(
            Path::new("m/model.bin"),
            model_bin(
                6,
                "WhisperSpec",
                &[Var(
                    "encoder/conv1/weight",
                    vec![4, 2, 3],
                    0,
                    f32s(&[0.0; 24]),
                )],
                &[],
            ),
        )
        .unwrap();
        match whisper_config(&m) {
            Err(LoadError::MissingTensor { path, key, .. }) => {
                assert_eq!(path, Path::new("m/model.bin"));
                assert_eq!(key, "decoder/embeddings/weight");
            }
            other => panic!("expected a missing tensor, got {:?}", other.err()),
        }
    }
}
