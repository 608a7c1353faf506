//! An emotion model whose weights are trainable variables, and its
//! checkpoint directory.
//!
//! [`TrainableModel`] keeps every weight in candle `VarMap`s: the audio
//! backbone ([`AudioBackbone`]: a pretrained checkpoint copied into
//! variables, or a fresh student), the text backbone ([`TextBackbone`]:
//! frozen, or variables initialised from its checkpoint) and the head (layer
//! weights, pooling, MLPs). The head lives in an [`EmotionModel`] built once
//! with [`EmotionModel::from_parts`]; its tensors are the variables
//! themselves, so optimiser updates reach it in place. The audio encoder is
//! rebuilt from its variables for every step ([`AudioBackbone::encoder`]),
//! because the positional conv's weight norm is derived when it is built.
//!
//! [`TrainableModel::save`] writes a self-contained emotion checkpoint
//! (`emoscope.json`, `head.safetensors`, `audio/`, `text/`) that
//! [`emoscope::engine::load_predictor`] loads like any other.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use emoscope_models::emotion::{Manifest, Parts};
use emoscope_models::{
    Checkpoint, EmotionModel, Kernels, LoadOptions, PreprocessorConfig, SslConfig, SslEncoder,
    TextEncoder,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::error::{io_err, TrainError};

/// Key prefixes under which checkpoints store the encoder (bare, `HubertFor…`, `Wav2Vec2For…`).
const AUDIO_PREFIXES: [&str; 3] = ["", "hubert.", "wav2vec2."];
/// A key every HuBERT-family checkpoint has.
const AUDIO_PROBE: &str = "feature_extractor.conv_layers.0.conv.weight";
/// Keys of the conv feature extractor (frozen unless `--train-conv`).
const CONV_PREFIX: &str = "feature_extractor.";

/// The speech encoder's weights as variables, with the configuration files to save them with.
pub struct AudioBackbone {
    config: SslConfig,
    config_json: Value,
    preprocessor: PreprocessorConfig,
    preprocessor_json: Value,
    vars: VarMap,
    /// Names errors and seeds (unused once every variable exists).
    label: PathBuf,
    seed: u64,
}

fn read_json(path: &Path) -> Result<Value, TrainError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|source| TrainError::Json {
        path: path.to_owned(),
        source,
    })
}

impl AudioBackbone {
    /// A pretrained HuBERT / wav2vec2 checkpoint directory, copied into variables.
    pub fn from_dir(dir: &Path) -> Result<Self, TrainError> {
        let config_json = read_json(&dir.join("config.json"))?;
        let config = SslConfig::from_file(&dir.join("config.json"))?;
        let pre_path = dir.join("preprocessor_config.json");
        let preprocessor_json = if pre_path.exists() {
            read_json(&pre_path)?
        } else {
            serde_json::json!({ "do_normalize": true, "sampling_rate": 16000, "padding_value": 0.0 })
        };
        let preprocessor = serde_json::from_value(preprocessor_json.clone()).map_err(|source| {
            TrainError::Json {
                path: pre_path.clone(),
                source,
            }
        })?;
        let ckpt = Checkpoint::open_dir(dir, DType::F32, &Device::Cpu)?;
        let prefix = AUDIO_PREFIXES
            .iter()
            .find(|p| ckpt.contains(&format!("{p}{AUDIO_PROBE}")))
            .ok_or_else(|| TrainError::Init {
                spec: dir.display().to_string(),
                message: format!("no `{AUDIO_PROBE}`: not a HuBERT / wav2vec2 checkpoint"),
            })?;
        let vars = ckpt.to_varmap(prefix)?;
        Ok(Self {
            config,
            config_json,
            preprocessor,
            preprocessor_json,
            vars,
            label: dir.to_owned(),
            seed: 0,
        })
    }

    /// A fresh encoder for `config` (whose `config.json` text is
    /// `config_json`), deterministically initialised from `seed` (see
    /// [`emoscope_models::Checkpoint::trainable`]), with the level-keeping
    /// first-conv gains of [`super::student::level_gains`].
    pub fn fresh(
        config: SslConfig,
        config_json: Value,
        preprocessor_json: Value,
        seed: u64,
    ) -> Result<Self, TrainError> {
        let label = PathBuf::from("<student>");
        let preprocessor: PreprocessorConfig = serde_json::from_value(preprocessor_json.clone())
            .map_err(|source| TrainError::Json {
                path: PathBuf::from("<student preprocessor_config.json>"),
                source,
            })?;
        let me = Self {
            config,
            config_json,
            preprocessor,
            preprocessor_json,
            vars: VarMap::new(),
            label,
            seed,
        };
        // The first build creates every variable.
        me.encoder()?;
        if let Some(range) = super::student::gain_exponents(&me.config_json)? {
            super::student::level_gains(&me.vars, seed, range)?;
        }
        Ok(me)
    }

    /// The configuration.
    pub fn config(&self) -> &SslConfig {
        &self.config
    }

    /// The preprocessing configuration (`do_normalize` matters for level).
    pub fn preprocessor(&self) -> &PreprocessorConfig {
        &self.preprocessor
    }

    /// The variables (all of them, conv stack included).
    pub fn vars(&self) -> &VarMap {
        &self.vars
    }

    /// The encoder over the variables (candle ops, differentiable). Rebuild
    /// after every optimiser step.
    pub fn encoder(&self) -> Result<SslEncoder, TrainError> {
        let ckpt = Checkpoint::trainable(&self.vars, &self.label, self.seed, &Device::Cpu);
        Ok(SslEncoder::from_checkpoint(
            self.config.clone(),
            self.preprocessor.clone(),
            &ckpt,
            &LoadOptions {
                kernels: Kernels::Candle,
                ..LoadOptions::default()
            },
        )?)
    }

    /// A frozen copy of the current weights on the fast CPU kernels, for
    /// computing features that do not need gradients.
    pub fn frozen_encoder(&self) -> Result<SslEncoder, TrainError> {
        let data = self.vars.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut tensors = HashMap::with_capacity(data.len());
        for (k, v) in data.iter() {
            tensors.insert(k.clone(), v.as_tensor().copy()?.detach());
        }
        drop(data);
        let ckpt = Checkpoint::from_tensors(tensors, &self.label, DType::F32, &Device::Cpu);
        Ok(SslEncoder::from_checkpoint(
            self.config.clone(),
            self.preprocessor.clone(),
            &ckpt,
            &LoadOptions::default(),
        )?)
    }

    /// Variables to optimise: the transformer and projection, plus the conv stack with `train_conv`.
    pub fn trainable_vars(&self, train_conv: bool) -> Vec<Var> {
        sorted_vars(&self.vars, |k| train_conv || !k.starts_with(CONV_PREFIX))
    }

    /// Writes a Hugging Face checkpoint directory (`config.json`,
    /// `preprocessor_config.json`, `model.safetensors`).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        for (name, v) in [
            ("config.json", &self.config_json),
            ("preprocessor_config.json", &self.preprocessor_json),
        ] {
            let p = dir.join(name);
            let text = serde_json::to_string_pretty(v).expect("JSON values serialise") + "\n";
            std::fs::write(&p, text).map_err(io_err(&p))?;
        }
        self.vars.save(dir.join("model.safetensors"))?;
        Ok(())
    }
}

/// The text backbone: frozen (loaded as is) or trainable (variables from its checkpoint).
pub struct TextBackbone {
    dir: PathBuf,
    /// Present when the backbone is trained.
    vars: Option<VarMap>,
}

impl TextBackbone {
    /// A sentence-encoder directory; `trainable` copies its weights into variables.
    pub fn new(dir: &Path, trainable: bool) -> Result<Self, TrainError> {
        let vars = if trainable {
            let mut vars = VarMap::new();
            // A first build creates the variables the model asks for, then the file fills them.
            TextEncoder::load_with(
                dir,
                VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu),
            )?;
            let weights = emoscope_models::text::weights_path(dir)?;
            vars.load(&weights)?;
            Some(vars)
        } else {
            None
        };
        Ok(Self {
            dir: dir.to_owned(),
            vars,
        })
    }

    /// The directory it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether its weights are trained.
    pub fn trainable(&self) -> bool {
        self.vars.is_some()
    }

    /// The encoder (over the variables when trainable; they update in place).
    pub fn encoder(&self) -> Result<TextEncoder, TrainError> {
        Ok(match &self.vars {
            Some(vars) => TextEncoder::load_with(
                &self.dir,
                VarBuilder::from_varmap(vars, DType::F32, &Device::Cpu),
            )?,
            None => TextEncoder::load(&self.dir, &Device::Cpu)?,
        })
    }

    /// Variables to optimise (none when frozen).
    pub fn trainable_vars(&self) -> Vec<Var> {
        self.vars
            .as_ref()
            .map(|v| sorted_vars(v, |_| true))
            .unwrap_or_default()
    }

    /// Copies the directory (configuration, tokenizer, pooling) into `out`,
    /// with the trained weights in place of the original ones.
    pub fn save(&self, out: &Path) -> Result<(), TrainError> {
        copy_dir(&self.dir, out)?;
        if let Some(vars) = &self.vars {
            vars.save(out.join("model.safetensors"))?;
        }
        Ok(())
    }
}

/// Copies a directory tree (files and sub-directories).
pub fn copy_dir(from: &Path, to: &Path) -> Result<(), TrainError> {
    std::fs::create_dir_all(to).map_err(io_err(to))?;
    for entry in std::fs::read_dir(from).map_err(io_err(from))? {
        let entry = entry.map_err(io_err(from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(io_err(&src))?;
        }
    }
    Ok(())
}

/// Variables of `map` whose names pass `keep`, in name order (a stable optimiser order).
fn sorted_vars(map: &VarMap, keep: impl Fn(&str) -> bool) -> Vec<Var> {
    let data = map.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut named: Vec<(&String, &Var)> = data.iter().filter(|(k, _)| keep(k)).collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    named.into_iter().map(|(_, v)| v.clone()).collect()
}

/// An emotion model under training.
pub struct TrainableModel {
    /// The manifest the checkpoint is written with (paths `audio` and `text`).
    pub manifest: Manifest,
    /// The audio backbone, when the model has an audio branch.
    pub audio: Option<AudioBackbone>,
    /// The text backbone, when the model has a text branch.
    pub text: Option<TextBackbone>,
    head_vars: VarMap,
    /// Head, pooling and layer weights over `head_vars` (its audio encoder is a
    /// build-time copy; training runs a freshly built one).
    model: EmotionModel,
}

impl TrainableModel {
    /// Assembles the model. The head's variables are created and initialised
    /// from `seed` (uniform ±1/√fan-in weights, zero biases, zero layer and
    /// late-fusion logits), or read from `head_weights` when given.
    pub fn new(
        manifest: Manifest,
        audio: Option<AudioBackbone>,
        text: Option<TextBackbone>,
        head_weights: Option<&Path>,
        seed: u64,
    ) -> Result<Self, TrainError> {
        let mut head_vars = VarMap::new();
        let model = Self::assemble(&manifest, audio.as_ref(), text.as_ref(), &head_vars)?;
        init_head(&head_vars, seed)?;
        if let Some(path) = head_weights {
            head_vars.load(path).map_err(|e| TrainError::Init {
                spec: path.display().to_string(),
                message: format!("the head weights do not fit the model: {e}"),
            })?;
        }
        Ok(Self {
            manifest,
            audio,
            text,
            head_vars,
            model,
        })
    }

    fn assemble(
        manifest: &Manifest,
        audio: Option<&AudioBackbone>,
        text: Option<&TextBackbone>,
        head_vars: &VarMap,
    ) -> Result<EmotionModel, TrainError> {
        let audio = match audio {
            Some(a) => Some(a.frozen_encoder()?),
            None => None,
        };
        let text = match text {
            Some(t) => Some(t.encoder()?),
            None => None,
        };
        Ok(EmotionModel::from_parts(
            manifest.clone(),
            Parts {
                audio,
                text,
                head: VarBuilder::from_varmap(head_vars, DType::F32, &Device::Cpu),
                head_path: PathBuf::from("<head under training>"),
            },
        )?)
    }

    /// The emotion model: head, pooling and text branch are live; its audio
    /// encoder is the frozen copy made when the model was assembled (for
    /// frozen-backbone features). Run trainable audio through a fresh
    /// [`AudioBackbone::encoder`] and [`emoscope_models::emotion::AudioBranch::pool`].
    pub fn model(&self) -> &EmotionModel {
        &self.model
    }

    /// The head's variables.
    pub fn head_vars(&self) -> &VarMap {
        &self.head_vars
    }

    /// Head variables to optimise, in name order (the audio-only fallback included).
    pub fn head_trainable_vars(&self) -> Vec<Var> {
        sorted_vars(&self.head_vars, |_| true)
    }

    /// Writes the emotion checkpoint into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        if let (Some(a), Some(spec)) = (&self.audio, &self.manifest.audio) {
            a.save(&dir.join(&spec.path))?;
        }
        if let (Some(t), Some(spec)) = (&self.text, &self.manifest.text) {
            t.save(&dir.join(&spec.path))?;
        }
        self.head_vars.save(dir.join(&self.manifest.head.weights))?;
        self.manifest.write(dir)?;
        Ok(())
    }

    /// Writes only the variables (for resuming): `head.safetensors`,
    /// `audio.safetensors`, `text.safetensors` as present.
    pub fn save_vars(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        self.head_vars.save(dir.join("head.safetensors"))?;
        if let Some(a) = &self.audio {
            a.vars.save(dir.join("audio.safetensors"))?;
        }
        if let Some(vars) = self.text.as_ref().and_then(|t| t.vars.as_ref()) {
            vars.save(dir.join("text.safetensors"))?;
        }
        Ok(())
    }

    /// Restores what [`Self::save_vars`] wrote.
    pub fn load_vars(&mut self, dir: &Path) -> Result<(), TrainError> {
        let load = |vars: &mut VarMap, name: &str| -> Result<(), TrainError> {
            let p = dir.join(name);
            vars.load(&p).map_err(|e| TrainError::Init {
                spec: p.display().to_string(),
                message: format!("cannot resume from it: {e}"),
            })
        };
        load(&mut self.head_vars, "head.safetensors")?;
        if let Some(a) = &mut self.audio {
            load(&mut a.vars, "audio.safetensors")?;
        }
        if let Some(vars) = self.text.as_mut().and_then(|t| t.vars.as_mut()) {
            load(vars, "text.safetensors")?;
        }
        Ok(())
    }
}

/// Deterministic initial head values, drawn per variable name from `seed`
/// (candle's own initialisers use an unseeded generator).
fn init_head(vars: &VarMap, seed: u64) -> Result<(), TrainError> {
    let data = vars.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let n = var.elem_count();
        let leaf = name.rsplit('.').next().unwrap_or(name);
        let mut h = seed ^ 0x6865_6164;
        for b in name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(h);
        let values: Vec<f32> = match leaf {
            "bias" | "layer_weights" | "late_weight" => vec![0.0; n],
            "attention" => (0..n)
                .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal))
                .collect(),
            _ => {
                let fan_in = dims.get(1).copied().unwrap_or(1).max(1);
                let bound = 1.0 / (fan_in as f32).sqrt();
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            }
        };
        var.set(&Tensor::from_vec(values, dims.as_slice(), &Device::Cpu)?)?;
    }
    Ok(())
}
