//! The module paths other crates used before the speech encoder moved into
//! `speech/` and the head and pooling into `emotion/`: they must keep naming
//! the same items. Each binding below only
//! compiles when the old path and the new one are the same item.

use std::path::Path;

use emoscope_models::{emotion, speech, LoadError};

#[test]
fn speech_encoder_modules_resolve_at_their_old_paths() {
    let _: fn(&Path) -> Result<speech::SslConfig, LoadError> =
        emoscope_models::config::SslConfig::from_file;
    let _: fn(&Path) -> Result<Option<speech::PreprocessorConfig>, LoadError> =
        emoscope_models::config::PreprocessorConfig::from_file;
    let _: speech::FeatExtractNorm = emoscope_models::config::FeatExtractNorm::Group;
    let _: fn() -> speech::ConvFeatureCache = emoscope_models::conv_cache::ConvFeatureCache::new;
    let _: fn(&Path) -> Result<speech::SslEncoder, LoadError> =
        emoscope_models::model::SslEncoder::load;
    let _: speech::Kernels = emoscope_models::model::Kernels::Candle;
    let _: fn() -> speech::LoadOptions = <emoscope_models::model::LoadOptions as Default>::default;
    let _: Option<speech::EncoderOutput> = None::<emoscope_models::model::EncoderOutput>;
    let _: Option<speech::encoder::Encoder> = None::<emoscope_models::encoder::Encoder>;
    let _: Option<speech::feature_extractor::FeatureEncoder> =
        None::<emoscope_models::feature_extractor::FeatureEncoder>;
    let _: Option<speech::feature_projection::FeatureProjection> =
        None::<emoscope_models::feature_projection::FeatureProjection>;
    let _: Option<speech::positional::PositionalConvEmbedding> =
        None::<emoscope_models::positional::PositionalConvEmbedding>;
    let _: fn(&mut [f32]) = emoscope_models::preprocess::zero_mean_unit_var;
    // The root re-exports.
    let _: fn(&Path) -> Result<speech::SslEncoder, LoadError> = emoscope_models::SslEncoder::load;
    let _: Option<speech::SslConfig> = None::<emoscope_models::SslConfig>;
    let _: Option<speech::PreprocessorConfig> = None::<emoscope_models::PreprocessorConfig>;
    let _: Option<speech::FeatExtractNorm> = None::<emoscope_models::FeatExtractNorm>;
    let _: Option<speech::ConvFeatureCache> = None::<emoscope_models::ConvFeatureCache>;
    let _: Option<speech::EncoderOutput> = None::<emoscope_models::EncoderOutput>;
    let _: Option<speech::LoadOptions> = None::<emoscope_models::LoadOptions>;
    let _: Option<speech::Kernels> = None::<emoscope_models::Kernels>;
}

#[test]
fn emotion_head_and_pooling_resolve_at_their_old_paths() {
    let _: emotion::head::Activation = emoscope_models::head::Activation::Tanh;
    let _: Option<emotion::head::Mlp> = None::<emoscope_models::head::Mlp>;
    let _: Option<emotion::head::Fusion> = None::<emoscope_models::head::Fusion>;
    let _: Option<emotion::pooling::TimePooling> = None::<emoscope_models::pooling::TimePooling>;
    let _: Option<emotion::pooling::LayerWeights> = None::<emoscope_models::pooling::LayerWeights>;
    let _: Option<emotion::pooling::AttentiveStatistics> =
        None::<emoscope_models::pooling::AttentiveStatistics>;
    let frame_mask: fn(
        &[usize],
        usize,
        candle_core::DType,
        &candle_core::Device,
    ) -> candle_core::Result<candle_core::Tensor> = emoscope_models::pooling::frame_mask;
    let _ = frame_mask;
    let _: fn(&candle_core::Tensor, &[usize]) -> candle_core::Result<candle_core::Tensor> =
        emotion::pooling::masked_mean;
}
