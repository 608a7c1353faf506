//! Checkpoint access: weight files behind a path-building view whose keys
//! spell the Hugging Face state-dict names.
//!
//! [`Checkpoint`] memory-maps one or more safetensors files and indexes their
//! headers, or holds tensors in memory (a PyTorch `pytorch_model.bin`, read
//! with candle's pickle reader, or trainable variables during training);
//! [`Vb`] is a cheap prefixed view of it (like candle's `VarBuilder::pp`).
//! Every lookup checks the key and the shape against the index first, so an
//! error names the file, the full key and both shapes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};

use crate::error::LoadError;

/// The weights of a checkpoint: memory-mapped safetensors files or in-memory tensors.
pub struct Checkpoint {
    /// The files, in the order given; a key present in several resolves to the last.
    files: Vec<(PathBuf, MmapedSafetensors)>,
    /// Key -> (file index, shape), built from the headers at open time.
    index: HashMap<String, (usize, Vec<usize>)>,
    /// Tensors held in memory, looked up before the files; `memory_path` names them in errors.
    memory: HashMap<String, Tensor>,
    /// The file the in-memory tensors came from (or a label for variables).
    memory_path: PathBuf,
    /// Trainable variables (see [`Self::trainable`]); looked up before everything else.
    vars: Option<Trainable>,
    /// Where loaded tensors are placed.
    device: Device,
    /// The dtype every floating-point tensor is converted to.
    dtype: DType,
}

impl Checkpoint {
    /// Opens `paths` and reads their headers. Nothing is copied until a tensor is requested.
    pub fn open(paths: &[PathBuf], dtype: DType, device: &Device) -> Result<Self, LoadError> {
        let mut files = Vec::with_capacity(paths.len());
        let mut index = HashMap::new();
        for (i, path) in paths.iter().enumerate() {
            // SAFETY: the file is mapped read-only; as with every memory-mapped
            // checkpoint loader, it must not be truncated while the model loads.
            let st = unsafe { MmapedSafetensors::new(path) }.map_err(|e| LoadError::Weights {
                path: path.clone(),
                message: e.to_string(),
            })?;
            for (name, view) in st.tensors() {
                index.insert(name, (i, view.shape().to_vec()));
            }
            files.push((path.clone(), st));
        }
        Ok(Self {
            files,
            index,
            memory: HashMap::new(),
            memory_path: PathBuf::new(),
            vars: None,
            device: device.clone(),
            dtype,
        })
    }

    /// A checkpoint over tensors already in memory. `path` names their origin
    /// in errors. Tensors are returned as they are (sharing storage, so a
    /// trainable variable passed here stays trainable); only a dtype or
    /// device mismatch makes a converted copy.
    pub fn from_tensors(
        tensors: HashMap<String, Tensor>,
        path: &Path,
        dtype: DType,
        device: &Device,
    ) -> Self {
        Self {
            files: Vec::new(),
            index: HashMap::new(),
            memory: tensors,
            memory_path: path.to_owned(),
            vars: None,
            device: device.clone(),
            dtype,
        }
    }

    /// A checkpoint over trainable f32 variables, for building a model whose
    /// weights an optimiser updates (with `Kernels::Candle`: the CPU kernels
    /// copy weights at load and are inference-only).
    ///
    /// If `varmap` already holds variables (copied from a pretrained
    /// checkpoint with [`Self::to_varmap`]), lookups return them, shape-checked,
    /// and a missing key is an error as with files. If it is empty, the model
    /// is being created from scratch: every tensor the model asks for is
    /// created with a deterministic random initialisation derived from `seed`
    /// and the tensor's name (biases 0, normalisation gains 1, conv weights
    /// He-normal, linear weights normal with std `1/sqrt(fan_in)`), in the
    /// current PyTorch key layout, so [`candle_nn::VarMap::save`] writes a
    /// checkpoint directory's `model.safetensors` that loads like any other.
    pub fn trainable(varmap: &candle_nn::VarMap, label: &Path, seed: u64, device: &Device) -> Self {
        let init = varmap.all_vars().is_empty();
        Self {
            files: Vec::new(),
            index: HashMap::new(),
            memory: HashMap::new(),
            memory_path: label.to_owned(),
            vars: Some(Trainable {
                varmap: varmap.clone(),
                init,
                seed,
            }),
            device: device.clone(),
            dtype: DType::F32,
        }
    }

    /// Copies every tensor under `prefix` into a new [`candle_nn::VarMap`] as
    /// trainable f32 variables, keys without the prefix (fine-tuning starts here).
    pub fn to_varmap(&self, prefix: &str) -> Result<candle_nn::VarMap, LoadError> {
        let varmap = candle_nn::VarMap::new();
        {
            let mut data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
            for key in self.keys() {
                let Some(name) = key.strip_prefix(prefix) else {
                    continue;
                };
                let shape = self.shape_of(&key).unwrap_or_default();
                let t = self.load(&key, &shape)?;
                let var =
                    candle_core::Var::from_tensor(&t.to_dtype(DType::F32).map_err(|source| {
                        LoadError::Candle {
                            path: self.path().to_owned(),
                            source,
                        }
                    })?)
                    .map_err(|source| LoadError::Candle {
                        path: self.path().to_owned(),
                        source,
                    })?;
                data.insert(name.to_owned(), var);
            }
        }
        Ok(varmap)
    }

    fn shape_of(&self, key: &str) -> Option<Vec<usize>> {
        if let Some(t) = self.memory.get(key) {
            return Some(t.dims().to_vec());
        }
        self.index.get(key).map(|(_, s)| s.clone())
    }

    /// Reads a PyTorch `state_dict` saved with `torch.save` (`pytorch_model.bin`).
    pub fn open_pytorch(path: &Path, dtype: DType, device: &Device) -> Result<Self, LoadError> {
        let tensors = candle_core::pickle::read_all(path).map_err(|e| LoadError::Weights {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self::from_tensors(
            tensors.into_iter().collect(),
            path,
            dtype,
            device,
        ))
    }

    /// Opens the weights of a Hugging Face checkpoint directory:
    /// `model.safetensors`, the shards listed in `model.safetensors.index.json`,
    /// or, for checkpoints published before safetensors, `pytorch_model.bin`.
    pub fn open_dir(dir: &Path, dtype: DType, device: &Device) -> Result<Self, LoadError> {
        let single = dir.join("model.safetensors");
        if single.exists() {
            return Self::open(&[single], dtype, device);
        }
        let index_path = dir.join("model.safetensors.index.json");
        if !index_path.exists() {
            let pickle = dir.join("pytorch_model.bin");
            if pickle.exists() {
                return Self::open_pytorch(&pickle, dtype, device);
            }
            return Err(LoadError::Io {
                path: single,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no model.safetensors, model.safetensors.index.json or pytorch_model.bin in the directory",
                ),
            });
        }
        let text = std::fs::read_to_string(&index_path).map_err(|source| LoadError::Io {
            path: index_path.clone(),
            source,
        })?;
        #[derive(serde::Deserialize)]
        struct Index {
            weight_map: HashMap<String, String>,
        }
        let idx: Index = serde_json::from_str(&text).map_err(|source| LoadError::Json {
            path: index_path.clone(),
            source,
        })?;
        let mut shards: Vec<&String> = idx.weight_map.values().collect();
        shards.sort();
        shards.dedup();
        let paths: Vec<PathBuf> = shards.into_iter().map(|s| dir.join(s)).collect();
        Self::open(&paths, dtype, device)
    }

    /// The device tensors are loaded onto.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The first file, used in errors that concern the checkpoint as a whole.
    pub fn path(&self) -> &Path {
        self.files
            .first()
            .map(|(p, _)| p.as_path())
            .unwrap_or(self.memory_path.as_path())
    }

    /// Whether a full key exists. While a model is created from scratch
    /// ([`Self::trainable`] on an empty map), every key of the current layout
    /// "exists" (it will be created) and the legacy weight-norm names do not.
    pub fn contains(&self, key: &str) -> bool {
        if let Some(v) = &self.vars {
            let data = v.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
            if data.contains_key(key) {
                return true;
            }
            if v.init {
                return !(key.ends_with("weight_g") || key.ends_with("weight_v"));
            }
        }
        self.memory.contains_key(key) || self.index.contains_key(key)
    }

    /// Every key, sorted (for listing what a checkpoint holds).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .memory
            .keys()
            .chain(self.index.keys())
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// A view rooted at `prefix` (which may be empty).
    pub fn root(&self, prefix: &str) -> Vb<'_> {
        Vb {
            ckpt: self,
            prefix: prefix.trim_end_matches('.').to_owned(),
        }
    }

    fn load(&self, key: &str, expected: &[usize]) -> Result<Tensor, LoadError> {
        if let Some(v) = &self.vars {
            return v.get(key, expected, &self.memory_path, &self.device);
        }
        if let Some(t) = self.memory.get(key) {
            if t.dims() != expected {
                return Err(LoadError::ShapeMismatch {
                    path: self.memory_path.clone(),
                    key: key.to_owned(),
                    expected: expected.to_vec(),
                    found: t.dims().to_vec(),
                });
            }
            let candle = |source| LoadError::Candle {
                path: self.memory_path.clone(),
                source,
            };
            let t = if t.device().same_device(&self.device) {
                t.clone()
            } else {
                t.to_device(&self.device).map_err(candle)?
            };
            return if t.dtype() == self.dtype {
                Ok(t)
            } else {
                t.to_dtype(self.dtype).map_err(candle)
            };
        }
        let Some((file, shape)) = self.index.get(key) else {
            return Err(LoadError::MissingTensor {
                path: self.path().to_owned(),
                key: key.to_owned(),
                expected: expected.to_vec(),
            });
        };
        let (path, st) = &self.files[*file];
        if shape.as_slice() != expected {
            return Err(LoadError::ShapeMismatch {
                path: path.clone(),
                key: key.to_owned(),
                expected: expected.to_vec(),
                found: shape.clone(),
            });
        }
        let candle = |source| LoadError::Candle {
            path: path.clone(),
            source,
        };
        let t = st.load(key, &self.device).map_err(candle)?;
        if t.dtype() == self.dtype {
            Ok(t)
        } else {
            t.to_dtype(self.dtype).map_err(candle)
        }
    }
}

/// A prefixed view of a [`Checkpoint`]; `vb.pp("encoder").pp("layers.0")` builds `encoder.layers.0`.
#[derive(Clone)]
pub struct Vb<'a> {
    ckpt: &'a Checkpoint,
    prefix: String,
}

impl<'a> Vb<'a> {
    /// Descends one level of the module tree.
    pub fn pp(&self, name: impl AsRef<str>) -> Vb<'a> {
        let name = name.as_ref();
        let prefix = if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{}", self.prefix, name)
        };
        Vb {
            ckpt: self.ckpt,
            prefix,
        }
    }

    /// The full key of `name` under this view.
    pub fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{}", self.prefix, name)
        }
    }

    /// Whether `name` exists under this view.
    pub fn contains(&self, name: &str) -> bool {
        self.ckpt.contains(&self.key(name))
    }

    /// Loads `name`, checking that its shape is `shape`.
    pub fn get(&self, shape: &[usize], name: &str) -> Result<Tensor, LoadError> {
        self.ckpt.load(&self.key(name), shape)
    }

    /// The device tensors land on.
    pub fn device(&self) -> &Device {
        self.ckpt.device()
    }

    /// The checkpoint file (for errors raised while assembling layers).
    pub fn path(&self) -> &Path {
        self.ckpt.path()
    }

    /// Wraps a candle error raised while assembling a layer from loaded tensors.
    pub fn candle_err(&self, source: candle_core::Error) -> LoadError {
        LoadError::Candle {
            path: self.path().to_owned(),
            source,
        }
    }
}

/// The variables behind [`Checkpoint::trainable`].
struct Trainable {
    varmap: candle_nn::VarMap,
    /// Create missing variables (an empty map at construction: a model from scratch).
    init: bool,
    seed: u64,
}

impl Trainable {
    fn get(
        &self,
        key: &str,
        expected: &[usize],
        label: &Path,
        device: &Device,
    ) -> Result<Tensor, LoadError> {
        let mut data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(var) = data.get(key) {
            if var.dims() != expected {
                return Err(LoadError::ShapeMismatch {
                    path: label.to_owned(),
                    key: key.to_owned(),
                    expected: expected.to_vec(),
                    found: var.dims().to_vec(),
                });
            }
            return Ok(var.as_tensor().clone());
        }
        if !self.init {
            return Err(LoadError::MissingTensor {
                path: label.to_owned(),
                key: key.to_owned(),
                expected: expected.to_vec(),
            });
        }
        let values = initial_values(key, expected, self.seed);
        let candle = |source| LoadError::Candle {
            path: label.to_owned(),
            source,
        };
        let t = Tensor::from_vec(values, expected, device).map_err(candle)?;
        let var = candle_core::Var::from_tensor(&t).map_err(candle)?;
        let out = var.as_tensor().clone();
        data.insert(key.to_owned(), var);
        Ok(out)
    }
}

/// The deterministic initial values of a fresh tensor named `key` (see [`Checkpoint::trainable`]).
fn initial_values(key: &str, shape: &[usize], seed: u64) -> Vec<f32> {
    use rand::{Rng, SeedableRng};
    let n: usize = shape.iter().product();
    let name = key.rsplit('.').next().unwrap_or(key);
    let is_norm =
        key.contains("norm") && !key.contains("parametrizations") && !key.ends_with("weight_g");
    if name == "bias" {
        return vec![0.0; n];
    }
    if (is_norm && name == "weight") || name == "original0" || name == "weight_g" {
        return vec![1.0; n];
    }
    let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
    let std = if shape.len() >= 3 {
        (2.0 / fan_in as f64).sqrt() // He-normal for the GELU convs
    } else {
        (1.0 / fan_in as f64).sqrt()
    };
    // The stream depends on the seed and the name only, not on creation order.
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(h);
    (0..n)
        .map(|_| {
            let z: f64 = rng.sample(rand_distr::StandardNormal);
            (z * std) as f32
        })
        .collect()
}
