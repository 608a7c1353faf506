//! The measures of categorical speech emotion recognition, as scikit-learn
//! computes them (the Odyssey 2024 challenge and most SER papers report
//! these): accuracy, unweighted average recall (UAR, scikit-learn's
//! `balanced_accuracy_score`), macro-averaged F1 (`f1_score(average="macro")`)
//! and the confusion matrix.
//!
//! Classes are indices into the model's labels. Following scikit-learn, UAR
//! averages the recall of the classes that occur in the truth, and macro-F1
//! the F1 of the classes that occur in the truth or the predictions (a class
//! never predicted and never true counts in neither); a class with no true
//! positive has F1 0.

use serde::{Deserialize, Serialize};

/// Scores of categorical predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Share of utterances whose predicted class is the true one.
    pub accuracy: f64,
    /// Unweighted average recall over the classes in the truth.
    pub uar: f64,
    /// Mean F1 over the classes in the truth or the predictions.
    pub macro_f1: f64,
    /// `confusion[t][p]`: utterances of true class `t` predicted as `p`,
    /// over every class.
    pub confusion: Vec<Vec<usize>>,
    /// Each class's recall (`None` when it never occurs in the truth).
    pub recall: Vec<Option<f64>>,
}

/// Scores `predicted` classes against `truth` (same length, at least one),
/// both indices below `classes`.
pub fn classification_scores(truth: &[usize], predicted: &[usize], classes: usize) -> ClassScores {
    assert_eq!(
        truth.len(),
        predicted.len(),
        "predictions and labels differ in length"
    );
    assert!(!truth.is_empty(), "nothing to score");
    let mut confusion = vec![vec![0usize; classes]; classes];
    for (&t, &p) in truth.iter().zip(predicted) {
        confusion[t][p] += 1;
    }
    let n = truth.len() as f64;
    let correct: usize = (0..classes).map(|c| confusion[c][c]).sum();
    let support = |c: usize| confusion[c].iter().sum::<usize>();
    let predicted_as = |c: usize| confusion.iter().map(|row| row[c]).sum::<usize>();
    let recall: Vec<Option<f64>> = (0..classes)
        .map(|c| (support(c) > 0).then(|| confusion[c][c] as f64 / support(c) as f64))
        .collect();
    let present: Vec<f64> = recall.iter().flatten().copied().collect();
    let uar = present.iter().sum::<f64>() / present.len() as f64;
    let f1: Vec<f64> = (0..classes)
        .filter(|&c| support(c) > 0 || predicted_as(c) > 0)
        .map(|c| {
            let tp = confusion[c][c] as f64;
            let (fp, fn_) = (predicted_as(c) as f64 - tp, support(c) as f64 - tp);
            if tp == 0.0 {
                0.0
            } else {
                2.0 * tp / (2.0 * tp + fp + fn_)
            }
        })
        .collect();
    ClassScores {
        accuracy: correct as f64 / n,
        uar,
        macro_f1: f1.iter().sum::<f64>() / f1.len() as f64,
        confusion,
        recall,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of `models/reference/class_metrics.py`, with the values
    /// scikit-learn gives for them (`accuracy_score`,
    /// `balanced_accuracy_score`, `f1_score(average="macro")`,
    /// `confusion_matrix(labels=range(classes))`), recorded in
    /// `training/tests/fixtures/class_metrics.json`.
    #[test]
    fn scores_equal_scikit_learns() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/class_metrics.json"
        );
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(cases.len() >= 4);
        let ints = |v: &serde_json::Value| -> Vec<usize> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect()
        };
        for case in &cases {
            let name = case["name"].as_str().unwrap();
            let s = classification_scores(
                &ints(&case["truth"]),
                &ints(&case["predicted"]),
                case["classes"].as_u64().unwrap() as usize,
            );
            for (key, got) in [
                ("accuracy", s.accuracy),
                ("uar", s.uar),
                ("macro_f1", s.macro_f1),
            ] {
                let want = case[key].as_f64().unwrap();
                assert!((got - want).abs() < 1e-12, "{name} {key}: {got} vs {want}");
            }
            let want: Vec<Vec<usize>> = case["confusion"]
                .as_array()
                .unwrap()
                .iter()
                .map(ints)
                .collect();
            assert_eq!(s.confusion, want, "{name}");
        }
    }
}
