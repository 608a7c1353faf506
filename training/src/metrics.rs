//! The measures of dimensional speech emotion recognition.
//!
//! The concordance correlation coefficient (Lin, 1989), as the SER
//! literature (MSP-Podcast, the Odyssey 2024 challenge) computes it with
//! population statistics: `CCC = 2·cov(x, y) / (var(x) + var(y) + (mean(x) − mean(y))²)`.
//! Pearson's r and the mean absolute error complete the picture: r ignores
//! bias and scale, CCC punishes both.

use serde::{Deserialize, Serialize};

/// Concordance correlation coefficient of predictions `x` and labels `y`
/// (0 when both are constant and equal-mean has no variance to agree on).
pub fn ccc(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my, vx, vy, cov) = moments(x, y);
    let denom = vx + vy + (mx - my).powi(2);
    if denom == 0.0 {
        0.0
    } else {
        2.0 * cov / denom
    }
}

/// Pearson's correlation coefficient (0 when either side is constant).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let (_, _, vx, vy, cov) = moments(x, y);
    if vx == 0.0 || vy == 0.0 {
        0.0
    } else {
        cov / (vx * vy).sqrt()
    }
}

/// Mean absolute error.
pub fn mae(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    x.iter().zip(y).map(|(a, b)| (a - b).abs()).sum::<f64>() / x.len().max(1) as f64
}

/// Means, population variances and covariance.
fn moments(x: &[f64], y: &[f64]) -> (f64, f64, f64, f64, f64) {
    assert_eq!(x.len(), y.len(), "predictions and labels differ in length");
    let n = x.len().max(1) as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let vx = x.iter().map(|a| (a - mx).powi(2)).sum::<f64>() / n;
    let vy = y.iter().map(|b| (b - my).powi(2)).sum::<f64>() / n;
    let cov = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / n;
    (mx, my, vx, vy, cov)
}

/// The three measures for one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DimensionScores {
    /// Concordance correlation coefficient.
    pub ccc: f64,
    /// Pearson's r.
    pub pearson: f64,
    /// Mean absolute error.
    pub mae: f64,
}

/// Scores per dimension and the mean CCC.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Arousal.
    pub arousal: DimensionScores,
    /// Valence.
    pub valence: DimensionScores,
    /// Dominance.
    pub dominance: DimensionScores,
    /// Mean of the three CCCs.
    pub mean_ccc: f64,
}

/// Scores predictions against labels, both `[arousal, valence, dominance]` per utterance.
pub fn score(predictions: &[[f32; 3]], labels: &[[f32; 3]]) -> Scores {
    let dim = |k: usize| {
        let x: Vec<f64> = predictions.iter().map(|p| f64::from(p[k])).collect();
        let y: Vec<f64> = labels.iter().map(|l| f64::from(l[k])).collect();
        DimensionScores {
            ccc: ccc(&x, &y),
            pearson: pearson(&x, &y),
            mae: mae(&x, &y),
        }
    };
    let (arousal, valence, dominance) = (dim(0), dim(1), dim(2));
    Scores {
        arousal,
        valence,
        dominance,
        mean_ccc: (arousal.ccc + valence.ccc + dominance.ccc) / 3.0,
    }
}

/// A model's scores on a set, whichever its outputs: the CCC, r and MAE of
/// each dimension, or a categorical model's accuracy, UAR, macro-F1 and
/// confusion matrix ([`crate::class_metrics`]). In JSON the fields of
/// either, untagged, so a dimensional model's evaluations read as they
/// always have (and older `training.json` and `state.json` files still load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TaskScores {
    /// A dimensional model's.
    Dimensions(Scores),
    /// A categorical model's.
    Categories(crate::class_metrics::ClassScores),
}

impl TaskScores {
    /// The figure training keeps the best checkpoint by and stops early
    /// on: the mean CCC, or the UAR (unweighted average recall: chance is
    /// 1 / classes whatever the class balance, unlike accuracy).
    pub fn selection(&self) -> f64 {
        match self {
            Self::Dimensions(s) => s.mean_ccc,
            Self::Categories(c) => c.uar,
        }
    }

    /// The name of [`Self::selection`].
    pub fn selection_name(&self) -> &'static str {
        match self {
            Self::Dimensions(_) => "mean CCC",
            Self::Categories(_) => "UAR",
        }
    }

    /// The dimensional scores (`None` for categories).
    pub fn dimensions(&self) -> Option<&Scores> {
        match self {
            Self::Dimensions(s) => Some(s),
            Self::Categories(_) => None,
        }
    }

    /// One line: the three CCCs and their mean, or UAR, accuracy and macro-F1.
    pub fn describe(&self) -> String {
        match self {
            Self::Dimensions(s) => format!(
                "CCC A {:.3} V {:.3} D {:.3}  mean {:.3}",
                s.arousal.ccc, s.valence.ccc, s.dominance.ccc, s.mean_ccc
            ),
            Self::Categories(c) => format!(
                "UAR {:.3}  accuracy {:.3}  macro-F1 {:.3}",
                c.uar, c.accuracy, c.macro_f1
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ccc_by_hand() {
        // x = [1, 2, 3], y = [2, 4, 6]: means 2 and 4, variances 2/3 and 8/3,
        // covariance 4/3. CCC = (8/3) / (2/3 + 8/3 + 4) = (8/3) / (22/3) = 8/22.
        let (x, y) = ([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]);
        assert!((ccc(&x, &y) - 8.0 / 22.0).abs() < 1e-12);
        // Pearson ignores the scale: exactly 1.
        assert!((pearson(&x, &y) - 1.0).abs() < 1e-12);
        // |1-2| + |2-4| + |3-6| = 6, over 3.
        assert!((mae(&x, &y) - 2.0).abs() < 1e-12);
        // Identity is perfect; negation is perfectly discordant.
        assert!((ccc(&x, &x) - 1.0).abs() < 1e-12);
        assert!(
            (ccc(&x, &[-1.0, -2.0, -3.0]) + 2.0 * (2.0 / 3.0) / (2.0 / 3.0 + 2.0 / 3.0 + 16.0))
                .abs()
                < 1e-12
        );
        // A constant prediction has no concordance.
        assert_eq!(ccc(&[0.5, 0.5, 0.5], &y), 0.0);
    }

    #[test]
    fn task_scores_keep_the_json_of_each_kind() {
        let p = [[0.1, 0.9, 0.5], [0.2, 0.8, 0.4], [0.3, 0.7, 0.6]];
        let dims = score(&p, &p);
        let json = serde_json::to_value(TaskScores::Dimensions(dims)).unwrap();
        assert_eq!(json, serde_json::to_value(dims).unwrap());
        let back: TaskScores = serde_json::from_value(json).unwrap();
        assert_eq!(back, TaskScores::Dimensions(dims));
        // Truth [0, 1, 1], predicted [0, 1, 0]: recalls 1 and 1/2, UAR 3/4.
        let classes = crate::class_metrics::classification_scores(&[0, 1, 1], &[0, 1, 0], 2);
        let t = TaskScores::Categories(classes.clone());
        assert!((t.selection() - 0.75).abs() < 1e-12);
        let back: TaskScores = serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
        assert_eq!(back, TaskScores::Categories(classes));
    }

    #[test]
    fn score_reports_each_dimension_and_the_mean() {
        let p = [[0.1, 0.9, 0.5], [0.2, 0.8, 0.4], [0.3, 0.7, 0.6]];
        let s = score(&p, &p);
        assert!((s.arousal.ccc - 1.0).abs() < 1e-9);
        assert!((s.mean_ccc - 1.0).abs() < 1e-9);
        assert_eq!(s.valence.mae, 0.0);
    }
}
