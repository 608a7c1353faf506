//! The speech encoders: HuBERT, DistilHuBERT, wav2vec2, WavLM and
//! Data2Vec-Audio, numerically equal to transformers' `HubertModel` /
//! `Wav2Vec2Model` / `WavLMModel` / `Data2VecAudioModel`.
//!
//! Mono samples at the checkpoint's rate (16 kHz) come in, from the
//! engine's capture ring, a decoded file or a training batch; every hidden
//! state goes out, to the emotion model's audio branch
//! ([`crate::emotion::AudioBranch`]), to layer analysis and to distillation.
//!
//! One file per module of transformers' model
//! (`models/hubert/modeling_hubert.py`, `models/wav2vec2/modeling_wav2vec2.py`,
//! `models/wavlm/modeling_wavlm.py`, `models/data2vec/modeling_data2vec_audio.py`),
//! and the state-dict keys each one loads:
//!
//! ```text
//! model.rs               SslEncoder              HubertModel / Wav2Vec2Model / WavLMModel
//! feature_extractor.rs   ├── feature_extractor   …FeatureEncoder
//!                        │   └── conv_layers.N.{conv, layer_norm}
//! feature_projection.rs  ├── feature_projection  …FeatureProjection
//!                        │   └── {layer_norm, projection}
//! encoder.rs             └── encoder             …Encoder / …EncoderStableLayerNorm
//! positional.rs              ├── pos_conv_embed.conv   …PositionalConvEmbedding
//!                            │   (Data2Vec-Audio: pos_conv_embed.layers.N.conv)
//!                            ├── layer_norm
//!                            └── layers.N              …EncoderLayer(StableLayerNorm)
//!                                ├── attention.{q_proj, k_proj, v_proj, out_proj}
//! wavlm.rs                       │   └── WavLM: gru_rel_pos_{linear, const},
//!                                │       rel_attn_embed (layers.0 only)
//!                                ├── layer_norm
//!                                ├── feed_forward.{intermediate_dense, output_dense}
//!                                └── final_layer_norm
//! ```
//!
//! Beside the tree: [`config`] reads `config.json` and
//! `preprocessor_config.json`, [`preprocess`] normalises and pads input as
//! `Wav2Vec2FeatureExtractor` does, and [`conv_cache`] re-uses conv frames
//! across overlapping streaming windows. The vectorised CPU kernels the conv
//! stack, the positional conv and the transformer layers run on are in
//! [`crate::cpu`]; the tensors come through [`crate::weights::Vb`].

pub mod config;
pub mod conv_cache;
pub mod encoder;
pub mod feature_extractor;
pub mod feature_projection;
pub mod model;
pub mod positional;
pub mod preprocess;
pub mod wavlm;

pub use config::{FeatExtractNorm, PreprocessorConfig, SslConfig};
pub use conv_cache::ConvFeatureCache;
pub use model::{EncoderOutput, Kernels, LoadOptions, SslEncoder};
