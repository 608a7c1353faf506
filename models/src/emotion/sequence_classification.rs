//! transformers' speech sequence-classification heads, as they are saved:
//! `HubertForSequenceClassification`, `Wav2Vec2ForSequenceClassification`
//! and `WavLMForSequenceClassification`.
//!
//! A directory written by `save_pretrained` for one of these classes
//! (`config.json` naming it in `architectures`, `preprocessor_config.json`,
//! `model.safetensors` or `pytorch_model.bin`) loads into a
//! [`SequenceClassifier`] whose module tree is the Python one:
//!
//! ```text
//! SequenceClassifier   *ForSequenceClassification
//! ├── backbone         hubert. / wav2vec2. / wavlm. (or no prefix)   SslEncoder
//! ├── layer_weights    [num_hidden_layers + 1]   (use_weighted_layer_sum)
//! ├── projector        Linear(hidden_size → classifier_proj_size)
//! └── classifier       Linear(classifier_proj_size → num_labels)
//! ```
//!
//! The forward pass is the Python one (`modeling_hubert.py`,
//! `modeling_wav2vec2.py`, `modeling_wavlm.py`, identical in the three):
//! the encoder's `last_hidden_state`, or with `use_weighted_layer_sum` the
//! softmax(`layer_weights`)-weighted sum of every hidden state; the
//! `projector` on every frame; the mean over frames (over each item's valid
//! frames, `_get_feature_vector_attention_mask`, when the batch is padded and
//! carries lengths; over all frames when it does not, as transformers does
//! without an attention mask); the `classifier`. The result is the logits.
//!
//! transformers returns only logits; what they mean comes from `config.json`.
//! These heads train with a cross-entropy loss whatever `problem_type` says,
//! so a head with several labels and no `problem_type`, or
//! `"single_label_classification"`, outputs categories: softmax
//! probabilities over `id2label` ([`Outputs::Categories`]). With
//! `problem_type: "regression"` (or a single label and no `problem_type`,
//! which cross-entropy cannot have trained) the logits are the values of the
//! dimensions `id2label` names ([`Outputs::Dimensions`]), with no declared
//! range. Samples come from the engine or the CLI like any emotion model's;
//! the outputs go to the runtime's predictor (`load_predictor`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::Linear;
use serde::Deserialize;

use super::outputs::{DeclaredDimension, DeclaredOutputs, Outputs};
use super::pooling::{masked_mean, LayerWeights};
use crate::error::{LoadError, RunError};
use crate::nn::linear;
use crate::speech::conv_cache::ConvFeatureCache;
use crate::speech::model::{EncoderOutput, LoadOptions, SslEncoder};
use crate::weights::{Checkpoint, Vb};

/// The task classes this module loads, with the backbone's `model_type`.
pub const ARCHITECTURES: [(&str, &str); 4] = [
    ("HubertForSequenceClassification", "hubert"),
    ("Wav2Vec2ForSequenceClassification", "wav2vec2"),
    ("WavLMForSequenceClassification", "wavlm"),
    ("Data2VecAudioForSequenceClassification", "data2vec-audio"),
];

/// The head's keys in `config.json` (the backbone's are [`crate::SslConfig`]'s).
/// `PretrainedConfig` and the family configurations:
/// <https://github.com/huggingface/transformers/blob/main/src/transformers/configuration_utils.py>,
/// <https://github.com/huggingface/transformers/blob/main/src/transformers/models/wav2vec2/configuration_wav2vec2.py>.
#[derive(Debug, Clone, Deserialize)]
pub struct ClassificationConfig {
    /// The model classes the checkpoint was saved from.
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    /// The backbone family (`hubert`, `wav2vec2`, `wavlm`).
    #[serde(default)]
    pub model_type: Option<String>,
    /// Softmax-weighted sum of every hidden state instead of the last one.
    #[serde(default)]
    pub use_weighted_layer_sum: bool,
    /// Width of the `projector`'s output.
    #[serde(default = "default_proj_size")]
    pub classifier_proj_size: usize,
    /// Output index (a decimal string) → label.
    #[serde(default)]
    pub id2label: Option<BTreeMap<String, String>>,
    /// The number of outputs when `id2label` is absent (then labelled `LABEL_i`).
    #[serde(default)]
    pub num_labels: Option<usize>,
    /// `"single_label_classification"`, `"regression"` or
    /// `"multi_label_classification"`; absent in many checkpoints.
    #[serde(default)]
    pub problem_type: Option<String>,
    /// Adapter layers after the encoder, which these task classes refuse.
    #[serde(default)]
    pub add_adapter: bool,
}

fn default_proj_size() -> usize {
    256
}

/// What the logits are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    /// One category per utterance: softmax probabilities over the labels.
    SingleLabel,
    /// Values of named dimensions: the logits as they are.
    Regression,
}

/// A checked `config.json` of a sequence-classification checkpoint: the
/// architecture, the labels and what the logits are, known before any
/// weight is read.
#[derive(Debug, Clone)]
pub struct ClassifierSpec {
    /// The `config.json` it was read from (named in errors).
    pub path: PathBuf,
    /// The head's configuration keys.
    pub config: ClassificationConfig,
    /// The architecture, one of [`ARCHITECTURES`].
    pub architecture: &'static str,
    /// The labels in output order.
    pub labels: Vec<String>,
    /// What the logits are.
    pub problem: ProblemType,
}

impl ClassifierSpec {
    /// What the model outputs: the labels as categories, or as dimensions
    /// with no declared range.
    pub fn declared_outputs(&self) -> DeclaredOutputs {
        match self.problem {
            ProblemType::SingleLabel => DeclaredOutputs {
                dimensions: Vec::new(),
                categories: self.labels.clone(),
            },
            ProblemType::Regression => DeclaredOutputs {
                dimensions: self
                    .labels
                    .iter()
                    .map(|name| DeclaredDimension {
                        name: name.clone(),
                        range: None,
                    })
                    .collect(),
                categories: Vec::new(),
            },
        }
    }
}

/// The spec of the sequence-classification checkpoint in `dir`, or `None`
/// when `dir/config.json` is absent or names none of [`ARCHITECTURES`].
/// Errors when it names one but the head's configuration is unusable.
pub fn detect(dir: &Path) -> Result<Option<ClassifierSpec>, LoadError> {
    let path = dir.join("config.json");
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
        path: path.clone(),
        source,
    })?;
    let config: ClassificationConfig =
        serde_json::from_str(&text).map_err(|source| LoadError::Json {
            path: path.clone(),
            source,
        })?;
    let Some(&(architecture, family)) = ARCHITECTURES
        .iter()
        .find(|(a, _)| config.architectures.iter().flatten().any(|name| name == a))
    else {
        return Ok(None);
    };
    let bad = |field: &str, message: String| LoadError::Unsupported {
        path: path.clone(),
        field: field.into(),
        message,
    };
    if let Some(t) = &config.model_type {
        if t != family {
            return Err(bad(
                "model_type",
                format!("found {t:?}, but {architecture} has a {family:?} backbone"),
            ));
        }
    }
    if config.add_adapter {
        return Err(bad(
            "add_adapter",
            format!(
                "{architecture} does not support adapter layers (transformers refuses them too)"
            ),
        ));
    }
    let labels = labels(&config, &path)?;
    let problem = match (config.problem_type.as_deref(), labels.len()) {
        (Some("single_label_classification"), 1) => {
            return Err(bad(
                "problem_type",
                "\"single_label_classification\" needs more than one label (transformers refuses it too)"
                    .into(),
            ))
        }
        (Some("single_label_classification"), _) | (None, 2..) => ProblemType::SingleLabel,
        (Some("regression"), _) | (None, _) => ProblemType::Regression,
        (Some(other), _) => {
            return Err(bad(
                "problem_type",
                format!(
                    "found {other:?}; \"single_label_classification\" and \"regression\" are supported"
                ),
            ))
        }
    };
    Ok(Some(ClassifierSpec {
        path,
        config,
        architecture,
        labels,
        problem,
    }))
}

/// The labels by output index, as `PretrainedConfig` reads them: `id2label`
/// (its keys must be 0..n), else `num_labels` outputs named `LABEL_i`, else two.
fn labels(config: &ClassificationConfig, path: &Path) -> Result<Vec<String>, LoadError> {
    let Some(map) = &config.id2label else {
        let n = config.num_labels.unwrap_or(2);
        if n == 0 {
            return Err(LoadError::Unsupported {
                path: path.to_owned(),
                field: "num_labels".into(),
                message: "a head needs at least one output".into(),
            });
        }
        return Ok((0..n).map(|i| format!("LABEL_{i}")).collect());
    };
    labels_by_index(map, path)
}

/// The labels of an `id2label` map in output order; its keys must be the
/// output indices 0..n (an error names `path` otherwise).
pub(crate) fn labels_by_index(
    map: &BTreeMap<String, String>,
    path: &Path,
) -> Result<Vec<String>, LoadError> {
    let bad = |message: String| LoadError::Unsupported {
        path: path.to_owned(),
        field: "id2label".into(),
        message,
    };
    let mut indexed = Vec::with_capacity(map.len());
    for (k, v) in map {
        let i = k
            .parse::<usize>()
            .map_err(|_| bad(format!("key {k:?} is not an output index")))?;
        indexed.push((i, v.clone()));
    }
    indexed.sort_by_key(|(i, _)| *i);
    if indexed.is_empty() || indexed.iter().map(|(i, _)| *i).ne(0..indexed.len()) {
        return Err(bad(format!(
            "expected the output indices 0..{}, found {:?}",
            indexed.len(),
            indexed.iter().map(|(i, _)| *i).collect::<Vec<_>>()
        )));
    }
    Ok(indexed.into_iter().map(|(_, l)| l).collect())
}

/// A `*ForSequenceClassification` model: backbone, layer weights, projector, classifier.
pub struct SequenceClassifier {
    spec: ClassifierSpec,
    backbone: SslEncoder,
    layer_weights: Option<LayerWeights>,
    projector: Linear,
    classifier: Linear,
    /// Entered by [`Self::head`]: layer sum, projector, mean, classifier.
    span: tracing::Span,
}

impl SequenceClassifier {
    /// Loads the checkpoint directory `dir`; fails when it is not one of
    /// [`ARCHITECTURES`].
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, LoadError> {
        let spec = detect(dir)?.ok_or_else(|| LoadError::Unsupported {
            path: dir.join("config.json"),
            field: "architectures".into(),
            message: format!(
                "expected one of {}",
                ARCHITECTURES.map(|(a, _)| a).join(", ")
            ),
        })?;
        Self::load_spec(dir, spec, opts)
    }

    /// Loads the checkpoint in `dir` that [`detect`] described as `spec`.
    pub fn load_spec(
        dir: &Path,
        spec: ClassifierSpec,
        opts: &LoadOptions,
    ) -> Result<Self, LoadError> {
        let backbone = SslEncoder::load_with(dir, opts)?;
        let cfg = backbone.config();
        let (hidden, states) = (cfg.hidden_size, cfg.num_hidden_layers + 1);
        let load = |vb: &Vb<'_>| -> Result<_, LoadError> {
            let layer_weights = if spec.config.use_weighted_layer_sum {
                Some(LayerWeights::load(states, vb)?)
            } else {
                None
            };
            let proj = spec.config.classifier_proj_size;
            let projector = linear(&vb.pp("projector"), hidden, proj)?;
            let classifier = linear(&vb.pp("classifier"), proj, spec.labels.len())?;
            Ok((layer_weights, projector, classifier))
        };
        let (layer_weights, projector, classifier) = match pickle_only(dir) {
            // candle's pickle reader reads only the tensors asked for.
            Some(pickle) => {
                let vb = super::head_var_builder(&pickle, &opts.device)?;
                load(&Vb::from_var_builder(vb, &pickle))?
            }
            None => load(&Checkpoint::open_dir(dir, DType::F32, &opts.device)?.root(""))?,
        };
        Ok(Self {
            spec,
            backbone,
            layer_weights,
            projector,
            classifier,
            span: tracing::span!(tracing::Level::TRACE, "sequence-classifier"),
        })
    }

    /// The checked configuration: architecture, labels, problem type.
    pub fn spec(&self) -> &ClassifierSpec {
        &self.spec
    }

    /// The speech encoder.
    pub fn backbone(&self) -> &SslEncoder {
        &self.backbone
    }

    /// The labels in output order.
    pub fn labels(&self) -> &[String] {
        &self.spec.labels
    }

    /// What the model outputs.
    pub fn declared_outputs(&self) -> DeclaredOutputs {
        self.spec.declared_outputs()
    }

    /// The sample rate the model expects (the preprocessor's).
    pub fn sample_rate(&self) -> u32 {
        self.backbone.preprocessor().sampling_rate
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        self.backbone.device()
    }

    /// The logits `[batch, num_labels]` for prepared input `[batch, samples]`,
    /// as transformers' `forward(input_values, attention_mask)`: `lengths`
    /// are the valid samples of each item of a right-padded batch (the
    /// attention mask), `None` for no mask (every frame counts).
    pub fn forward(&self, input: &Tensor, lengths: Option<&[usize]>) -> Result<Tensor, RunError> {
        let out = self.backbone.forward(input, lengths)?;
        self.head(&out)
    }

    /// The logits `[batch, num_labels]` from the encoder's output.
    pub fn head(&self, out: &EncoderOutput) -> Result<Tensor, RunError> {
        let _enter = self.span.enter();
        let hidden = match &self.layer_weights {
            Some(w) => {
                let states: Vec<Tensor> = out
                    .hidden_states
                    .iter()
                    .map(|h| h.to_dtype(DType::F32))
                    .collect::<Result<_, _>>()?;
                w.forward(&states)?
            }
            None => out.last_hidden_state.to_dtype(DType::F32)?,
        };
        let projected = self.projector.forward(&hidden)?;
        let pooled = masked_mean(&projected, &out.frame_lengths)?;
        Ok(self.classifier.forward(&pooled)?)
    }

    /// Each row of `logits` `[batch, num_labels]` as what it means:
    /// probabilities (softmax) per label, or values per dimension.
    pub fn outputs(&self, logits: &Tensor) -> Result<Vec<Outputs>, RunError> {
        let labels = &self.spec.labels;
        Ok(match self.spec.problem {
            ProblemType::SingleLabel => candle_nn::ops::softmax_last_dim(logits)?
                .to_vec2::<f32>()?
                .into_iter()
                .map(|probabilities| Outputs::Categories {
                    labels: labels.clone(),
                    probabilities,
                })
                .collect(),
            ProblemType::Regression => logits
                .to_vec2::<f32>()?
                .into_iter()
                .map(|values| Outputs::Dimensions {
                    names: labels.clone(),
                    values,
                })
                .collect(),
        })
    }

    /// The outputs for one utterance (mono samples at [`Self::sample_rate`]).
    pub fn classify(&self, samples: &[f32]) -> Result<Outputs, RunError> {
        let out = self.backbone.encode(samples)?;
        first(self.outputs(&self.head(&out)?)?)
    }

    /// The outputs for several utterances, run as one right-padded batch
    /// with each item's valid frames averaged.
    pub fn classify_batch(&self, utterances: &[&[f32]]) -> Result<Vec<Outputs>, RunError> {
        let out = self.backbone.encode_batch(utterances)?;
        self.outputs(&self.head(&out)?)
    }

    /// [`Self::classify`] for one window of a stream, re-using the conv
    /// frames the last window shares with it ([`SslEncoder::encode_cached`]).
    pub fn classify_cached(
        &self,
        samples: &[f32],
        cache: &mut ConvFeatureCache,
    ) -> Result<Outputs, RunError> {
        let out = self.backbone.encode_cached(samples, cache)?;
        first(self.outputs(&self.head(&out)?)?)
    }
}

fn first(outputs: Vec<Outputs>) -> Result<Outputs, RunError> {
    outputs
        .into_iter()
        .next()
        .ok_or_else(|| RunError::Input("no utterance".into()))
}

/// `pytorch_model.bin` when it is the directory's only weights file (the
/// encoder loader reads safetensors first, and so does the head).
fn pickle_only(dir: &Path) -> Option<PathBuf> {
    let pickle = dir.join("pytorch_model.bin");
    let safetensors = ["model.safetensors", "model.safetensors.index.json"]
        .iter()
        .any(|f| dir.join(f).exists());
    (!safetensors && pickle.exists()).then_some(pickle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_of(config: serde_json::Value) -> Result<Option<ClassifierSpec>, LoadError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        detect(dir.path())
    }

    fn labelled(n: usize) -> serde_json::Value {
        (0..n)
            .map(|i| (i.to_string(), serde_json::Value::from(format!("l{i}"))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    #[test]
    fn other_architectures_are_not_detected() {
        for cfg in [
            serde_json::json!({"architectures": ["HubertModel"], "model_type": "hubert"}),
            serde_json::json!({"architectures": ["Wav2Vec2ForSpeechClassification"]}),
            serde_json::json!({"model_type": "wavlm"}),
        ] {
            assert!(spec_of(cfg).unwrap().is_none());
        }
    }

    #[test]
    fn problem_type_follows_config_or_the_number_of_labels() {
        // (problem_type, labels) -> what the logits are.
        let cases = [
            (
                Some("single_label_classification"),
                4,
                ProblemType::SingleLabel,
            ),
            (Some("regression"), 3, ProblemType::Regression),
            (Some("regression"), 1, ProblemType::Regression),
            (None, 4, ProblemType::SingleLabel),
            (None, 2, ProblemType::SingleLabel),
            (None, 1, ProblemType::Regression),
        ];
        for (problem_type, n, want) in cases {
            let cfg = serde_json::json!({
                "architectures": ["WavLMForSequenceClassification"],
                "model_type": "wavlm",
                "id2label": labelled(n),
                "problem_type": problem_type,
            });
            let spec = spec_of(cfg).unwrap().unwrap();
            assert_eq!(spec.problem, want, "{problem_type:?} with {n} labels");
            assert_eq!(spec.labels.len(), n);
        }
    }

    #[test]
    fn labels_come_from_id2label_in_index_order_else_num_labels_else_two() {
        let arch = serde_json::json!(["HubertForSequenceClassification"]);
        let spec = spec_of(serde_json::json!({
            "architectures": arch, "id2label": {"1": "b", "0": "a", "2": "c"},
        }))
        .unwrap()
        .unwrap();
        assert_eq!(spec.labels, ["a", "b", "c"]);
        let spec = spec_of(serde_json::json!({"architectures": arch, "num_labels": 3}))
            .unwrap()
            .unwrap();
        assert_eq!(spec.labels, ["LABEL_0", "LABEL_1", "LABEL_2"]);
        let spec = spec_of(serde_json::json!({"architectures": arch}))
            .unwrap()
            .unwrap();
        assert_eq!(spec.labels, ["LABEL_0", "LABEL_1"]);
    }

    #[test]
    fn unusable_head_configurations_name_their_key() {
        let arch = serde_json::json!(["Wav2Vec2ForSequenceClassification"]);
        let cases = [
            (
                serde_json::json!({"architectures": arch, "id2label": {"0": "a", "2": "c"}}),
                "id2label",
            ),
            (
                serde_json::json!({"architectures": arch, "problem_type": "multi_label_classification"}),
                "problem_type",
            ),
            (
                serde_json::json!({"architectures": arch, "problem_type": "single_label_classification", "id2label": {"0": "a"}}),
                "problem_type",
            ),
            (
                serde_json::json!({"architectures": arch, "model_type": "hubert"}),
                "model_type",
            ),
            (
                serde_json::json!({"architectures": arch, "add_adapter": true}),
                "add_adapter",
            ),
        ];
        for (cfg, field) in cases {
            match spec_of(cfg.clone()) {
                Err(LoadError::Unsupported { field: f, path, .. }) => {
                    assert_eq!(f, field, "{cfg}");
                    assert!(path.ends_with("config.json"));
                }
                other => panic!("{cfg}: expected an error on `{field}`, got {other:?}"),
            }
        }
    }
}
