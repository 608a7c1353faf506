//! What an emotion model outputs: dimensions, categories, or both.
//!
//! A model declares its outputs once ([`DeclaredOutputs`]): named
//! dimensions, each with its range when the checkpoint states one
//! (Emoscope's `emoscope.json` does; a transformers regression head does
//! not), and category labels. Each utterance it reads then gives an
//! [`Outputs`] that says which kind it is: dimension values by name, or a
//! probability per category label. Both travel on as the runtime's
//! `Emotion` (its dimensions, or its category probabilities).

use super::manifest::Dimension;

/// One dimension a model outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredDimension {
    /// Its name (`arousal`, `valence`, `dominance`, or whatever the checkpoint calls it).
    pub name: String,
    /// `[min, max]` when the checkpoint declares it.
    pub range: Option<[f32; 2]>,
}

/// What a model outputs, in its output order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeclaredOutputs {
    /// The dimensions, by output index (empty when the model has none).
    pub dimensions: Vec<DeclaredDimension>,
    /// The category labels, by output index (empty when the model has none).
    pub categories: Vec<String>,
}

impl DeclaredOutputs {
    /// For each of arousal, valence and dominance, its index among
    /// [`Self::dimensions`] (names compared case-insensitively), when the
    /// dimensions are exactly those three and the model has no categories.
    pub fn avd_index(&self) -> Option<[usize; 3]> {
        if self.dimensions.len() != 3 || !self.categories.is_empty() {
            return None;
        }
        let find = |want: &str| {
            let mut hits = self
                .dimensions
                .iter()
                .enumerate()
                .filter(|(_, d)| d.name.eq_ignore_ascii_case(want));
            match (hits.next(), hits.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        };
        Some([find("arousal")?, find("valence")?, find("dominance")?])
    }

    /// The declaration of an Emoscope model: arousal, valence and dominance
    /// in that order (the order `EmotionModel::predict` returns), each in `range`.
    pub fn avd(range: [f32; 2]) -> Self {
        let dim = |d: Dimension| DeclaredDimension {
            name: dimension_name(d).into(),
            range: Some(range),
        };
        Self {
            dimensions: vec![
                dim(Dimension::Arousal),
                dim(Dimension::Valence),
                dim(Dimension::Dominance),
            ],
            categories: Vec::new(),
        }
    }
}

/// The lower-case name of a dimension, as manifests and `id2label` spell it.
pub fn dimension_name(d: Dimension) -> &'static str {
    match d {
        Dimension::Arousal => "arousal",
        Dimension::Valence => "valence",
        Dimension::Dominance => "dominance",
    }
}

/// One utterance's outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Outputs {
    /// Dimension values, `values[i]` named `names[i]`.
    Dimensions {
        /// The dimension names, in output order.
        names: Vec<String>,
        /// The values, in the same order.
        values: Vec<f32>,
    },
    /// A probability per category: `probabilities[i]` of `labels[i]`, summing to 1.
    Categories {
        /// The category labels, in output order.
        labels: Vec<String>,
        /// The probabilities, in the same order.
        probabilities: Vec<f32>,
    },
}

impl Outputs {
    /// The value of the dimension, or the probability of the category, called `name`.
    pub fn get(&self, name: &str) -> Option<f32> {
        let (names, values) = match self {
            Self::Dimensions { names, values } => (names, values),
            Self::Categories {
                labels,
                probabilities,
            } => (labels, probabilities),
        };
        names.iter().position(|n| n == name).map(|i| values[i])
    }

    /// The most probable category and its probability (`None` for dimensions).
    pub fn top_category(&self) -> Option<(&str, f32)> {
        match self {
            Self::Categories {
                labels,
                probabilities,
            } => labels
                .iter()
                .zip(probabilities)
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(l, &p)| (l.as_str(), p)),
            Self::Dimensions { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(names: &[&str]) -> DeclaredOutputs {
        DeclaredOutputs {
            dimensions: names
                .iter()
                .map(|n| DeclaredDimension {
                    name: (*n).into(),
                    range: None,
                })
                .collect(),
            categories: Vec::new(),
        }
    }

    #[test]
    fn avd_index_finds_each_dimension_by_name_in_any_order_and_case() {
        // audeering's order: arousal 0, dominance 1, valence 2.
        assert_eq!(
            dims(&["Arousal", "dominance", "VALENCE"]).avd_index(),
            Some([0, 2, 1])
        );
        assert_eq!(
            DeclaredOutputs::avd([0.0, 1.0]).avd_index(),
            Some([0, 1, 2])
        );
    }

    #[test]
    fn avd_index_needs_exactly_the_three_dimensions_and_no_categories() {
        assert_eq!(dims(&["arousal", "valence"]).avd_index(), None);
        assert_eq!(dims(&["arousal", "valence", "valence"]).avd_index(), None);
        assert_eq!(dims(&["LABEL_0", "LABEL_1", "LABEL_2"]).avd_index(), None);
        let mut both = dims(&["arousal", "valence", "dominance"]);
        both.categories.push("happy".into());
        assert_eq!(both.avd_index(), None);
    }

    #[test]
    fn outputs_are_read_by_name() {
        let c = Outputs::Categories {
            labels: vec!["sad".into(), "happy".into()],
            probabilities: vec![0.25, 0.75],
        };
        assert_eq!(c.get("happy"), Some(0.75));
        assert_eq!(c.get("angry"), None);
        assert_eq!(c.top_category(), Some(("happy", 0.75)));
        let d = Outputs::Dimensions {
            names: vec!["arousal".into()],
            values: vec![0.5],
        };
        assert_eq!(d.get("arousal"), Some(0.5));
        assert_eq!(d.top_category(), None);
    }
}
