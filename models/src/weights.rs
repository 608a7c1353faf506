//! Checkpoint access: weight files behind a path-building view whose keys
//! spell the Hugging Face state-dict names.
//!
//! [`Checkpoint`] memory-maps one or more safetensors files and indexes their
//! headers, or holds tensors in memory (a PyTorch `pytorch_model.bin`, read
//! with candle's pickle reader, or trainable variables during training);
//! [`Vb`] is a cheap prefixed view of it (like candle's `VarBuilder::pp`), or
//! of a candle `VarBuilder` a caller already holds (training's variables).
//! Every model family (the speech encoders, the text encoders, the emotion
//! head) loads its layers through [`Vb`], and every lookup checks the key and
//! the shape before anything is copied, so an error names the file, the full
//! key and both shapes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

    pub(crate) fn shape_of(&self, key: &str) -> Option<Vec<usize>> {
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
            source: Source::Checkpoint(self),
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

/// A prefixed view of a checkpoint; `vb.pp("encoder").pp("layers.0")` builds
/// `encoder.layers.0`. Every model family loads its layers through it.
///
/// The tensors come from a [`Checkpoint`] ([`Checkpoint::root`]) or, for
/// callers that hold a candle `VarBuilder` (training builds one over a
/// `VarMap`), from that builder ([`Vb::from_var_builder`]). Either way a
/// missing tensor is [`LoadError::MissingTensor`] and a wrong shape
/// [`LoadError::ShapeMismatch`], naming the file, the full key and the
/// shapes. (One exception: a builder over a `VarMap` reports a variable that
/// exists with another shape as candle's message, which names the key and
/// both shapes, in [`LoadError::Candle`].)
#[derive(Clone)]
pub struct Vb<'a> {
    source: Source<'a>,
    prefix: String,
}

/// Where a [`Vb`] reads its tensors.
#[derive(Clone)]
enum Source<'a> {
    Checkpoint(&'a Checkpoint),
    /// A candle builder at its root (the view's prefix holds the builder's
    /// own), with the file named in its errors.
    Builder {
        vb: candle_nn::VarBuilder<'a>,
        path: Arc<Path>,
    },
}

impl<'a> Vb<'a> {
    /// A view of a candle `VarBuilder`, rooted where the builder is; `path`
    /// names the weights in errors. A builder over a `VarMap` creates the
    /// variables the model asks for, initialised as the hints of
    /// [`Self::get_with_init`] say.
    pub fn from_var_builder(vb: candle_nn::VarBuilder<'a>, path: &Path) -> Self {
        Vb {
            prefix: vb.prefix(),
            source: Source::Builder {
                vb: vb.root(),
                path: Arc::from(path),
            },
        }
    }

    /// Descends one level of the module tree.
    pub fn pp(&self, name: impl AsRef<str>) -> Vb<'a> {
        let name = name.as_ref();
        let prefix = if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{}", self.prefix, name)
        };
        Vb {
            source: self.source.clone(),
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
        let key = self.key(name);
        match &self.source {
            Source::Checkpoint(ckpt) => ckpt.contains(&key),
            Source::Builder { vb, .. } => vb.contains_tensor(&key),
        }
    }

    /// Loads `name`, checking that its shape is `shape`. A builder over a
    /// `VarMap` creates a missing variable as zeros (candle's default hint).
    pub fn get(&self, shape: &[usize], name: &str) -> Result<Tensor, LoadError> {
        self.get_with_init(shape, name, candle_nn::Init::Const(0.0))
    }

    /// Loads `name`, checking that its shape is `shape`; `init` is how a
    /// builder over a `VarMap` initialises the variable when it creates it.
    /// A [`Checkpoint`] ignores `init` (a trainable one draws its own
    /// deterministic values, see [`Checkpoint::trainable`]).
    pub fn get_with_init(
        &self,
        shape: &[usize],
        name: &str,
        init: candle_nn::Init,
    ) -> Result<Tensor, LoadError> {
        let key = self.key(name);
        match &self.source {
            Source::Checkpoint(ckpt) => ckpt.load(&key, shape),
            Source::Builder { vb, path } => vb
                .get_with_hints(shape, &key, init)
                .map_err(|e| builder_error(e, path, &key, shape)),
        }
    }

    /// The device tensors land on.
    pub fn device(&self) -> &Device {
        match &self.source {
            Source::Checkpoint(ckpt) => ckpt.device(),
            Source::Builder { vb, .. } => vb.device(),
        }
    }

    /// The checkpoint file (for errors raised while assembling layers).
    pub fn path(&self) -> &Path {
        match &self.source {
            Source::Checkpoint(ckpt) => ckpt.path(),
            Source::Builder { path, .. } => path,
        }
    }

    /// Wraps a candle error raised while assembling a layer from loaded tensors.
    pub fn candle_err(&self, source: candle_core::Error) -> LoadError {
        LoadError::Candle {
            path: self.path().to_owned(),
            source,
        }
    }
}

/// The typed error for a failed `VarBuilder` lookup of `key`: candle's
/// missing-tensor and shape errors (under any backtrace or context wrapper)
/// become [`LoadError::MissingTensor`] and [`LoadError::ShapeMismatch`].
fn builder_error(
    error: candle_core::Error,
    path: &Path,
    key: &str,
    expected: &[usize],
) -> LoadError {
    fn innermost(e: &candle_core::Error) -> &candle_core::Error {
        use candle_core::Error;
        match e {
            Error::WithBacktrace { inner, .. }
            | Error::Context { inner, .. }
            | Error::WithPath { inner, .. } => innermost(inner),
            other => other,
        }
    }
    match innermost(&error) {
        candle_core::Error::CannotFindTensor { .. } => LoadError::MissingTensor {
            path: path.to_owned(),
            key: key.to_owned(),
            expected: expected.to_vec(),
        },
        candle_core::Error::UnexpectedShape { got, .. } => LoadError::ShapeMismatch {
            path: path.to_owned(),
            key: key.to_owned(),
            expected: expected.to_vec(),
            found: got.dims().to_vec(),
        },
        _ => LoadError::Candle {
            path: path.to_owned(),
            source: error,
        },
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use candle_core::{DType, Device, Tensor};
    use candle_nn::VarBuilder;

    use super::Vb;
    use crate::error::LoadError;

    /// A builder over one `[2, 3]` tensor `outer.inner.weight`, viewed from `outer`.
    fn builder_view(label: &Path) -> Vb<'static> {
        let t = Tensor::zeros((2, 3), DType::F32, &Device::Cpu).unwrap();
        let map = HashMap::from([("outer.inner.weight".to_owned(), t)]);
        let vb = VarBuilder::from_tensors(map, DType::F32, &Device::Cpu);
        Vb::from_var_builder(vb.pp("outer"), label)
    }

    #[test]
    fn a_builder_view_keeps_the_builders_prefix() {
        let vb = builder_view(Path::new("w.safetensors")).pp("inner");
        assert_eq!(vb.key("weight"), "outer.inner.weight");
        assert!(vb.contains("weight"));
        assert!(!vb.contains("bias"));
        assert_eq!(vb.get(&[2, 3], "weight").unwrap().dims(), &[2, 3]);
    }

    #[test]
    fn a_builder_views_wrong_shape_names_file_key_and_both_shapes() {
        let label = Path::new("head.safetensors");
        match builder_view(label).pp("inner").get(&[3, 2], "weight") {
            Err(LoadError::ShapeMismatch {
                path,
                key,
                expected,
                found,
            }) => {
                assert_eq!(path, label);
                assert_eq!(key, "outer.inner.weight");
                assert_eq!(expected, vec![3, 2]);
                assert_eq!(found, vec![2, 3]);
            }
            other => panic!("expected a shape mismatch, got {:?}", other.err()),
        }
    }

    #[test]
    fn a_builder_views_missing_tensor_names_file_key_and_shape() {
        let label = Path::new("head.safetensors");
        match builder_view(label).pp("inner").get(&[2], "bias") {
            Err(LoadError::MissingTensor {
                path,
                key,
                expected,
            }) => {
                assert_eq!(path, label);
                assert_eq!(key, "outer.inner.bias");
                assert_eq!(expected, vec![2]);
            }
            other => panic!("expected a missing tensor, got {:?}", other.err()),
        }
    }

    #[test]
    fn a_builder_over_a_varmap_creates_variables_with_the_hint() {
        let vars = candle_nn::VarMap::new();
        let vb = Vb::from_var_builder(
            VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu),
            Path::new("<vars>"),
        );
        let t = vb
            .pp("norm")
            .get_with_init(&[4], "weight", candle_nn::Init::Const(1.0))
            .unwrap();
        assert_eq!(t.to_vec1::<f32>().unwrap(), vec![1.0; 4]);
        assert!(vars.data().lock().unwrap().contains_key("norm.weight"));
    }
}
