//! The categories of a categorical model under training (`--task
//! categorical`): which labels it learns, and each utterance's label as the
//! class index the loss and the scores read.
//!
//! The label set is the sorted distinct values of the training manifest's
//! `label` column, or the order `--labels` fixes. Labels are compared
//! without regard to case, as `emoscope eval` compares a model's labels with
//! a manifest's, so two spellings that differ only in case are refused
//! rather than trained as two classes `eval` could not tell apart. Every
//! error names the manifest and the row's line.

use std::path::Path;

use crate::error::TrainError;
use crate::manifest::Example;

/// The categories to train on: `fixed` (`--labels`) when given, else the
/// sorted distinct labels of `examples` (the training manifest at
/// `manifest`). Checked: at least two, at most the runtime's
/// [`emoscope::reading::MAX_CATEGORIES`], no name twice, every row labelled
/// and, with `fixed`, every label among them.
pub fn label_set(
    examples: &[Example],
    manifest: &Path,
    fixed: Option<&[String]>,
) -> Result<Vec<String>, TrainError> {
    let set: Vec<String> = match fixed {
        Some(labels) => labels.iter().map(|l| l.trim().to_owned()).collect(),
        None => {
            let mut seen: Vec<String> = Vec::new();
            for e in examples {
                let label = row_label(e, manifest)?;
                if !seen.iter().any(|s| s == label) {
                    seen.push(label.to_owned());
                }
            }
            seen.sort();
            seen
        }
    };
    let origin = match fixed {
        Some(_) => "--labels".to_owned(),
        None => format!("the labels of {}", manifest.display()),
    };
    if let Some(empty) = set.iter().position(|l| l.is_empty()) {
        return Err(TrainError::Config(format!(
            "{origin}: label {} is empty",
            empty + 1
        )));
    }
    for (i, a) in set.iter().enumerate() {
        if let Some(b) = set[..i].iter().find(|b| b.eq_ignore_ascii_case(a)) {
            return Err(TrainError::Config(format!(
                "{origin}: {b:?} and {a:?} name the same category (labels are compared without \
                 regard to case)"
            )));
        }
    }
    if set.len() < 2 {
        return Err(TrainError::Config(format!(
            "{origin}: {set:?}; a categorical model needs at least two categories"
        )));
    }
    let max = emoscope::reading::MAX_CATEGORIES;
    if set.len() > max {
        return Err(TrainError::Config(format!(
            "{origin}: {} categories; Emoscope reads up to {max}",
            set.len()
        )));
    }
    if fixed.is_some() {
        for e in examples {
            class_of_row(e, manifest, &set)?;
        }
    }
    Ok(set)
}

/// The index of `label` among `categories`, compared without regard to case.
pub fn class_of(label: &str, categories: &[String]) -> Option<usize> {
    categories
        .iter()
        .position(|c| c.eq_ignore_ascii_case(label.trim()))
}

/// The class index of row `e` of `manifest`: an error naming the file and
/// line when the row has no label or one not among `categories`.
pub fn class_of_row(
    e: &Example,
    manifest: &Path,
    categories: &[String],
) -> Result<usize, TrainError> {
    let label = row_label(e, manifest)?;
    class_of(label, categories).ok_or_else(|| {
        TrainError::Config(format!(
            "{}, line {}: the label {label:?} is not one of the categories the model learns ({})",
            manifest.display(),
            e.line,
            categories.join(", ")
        ))
    })
}

/// Row `e`'s label, or the error for a row without one.
fn row_label<'e>(e: &'e Example, manifest: &Path) -> Result<&'e str, TrainError> {
    e.label.as_deref().ok_or_else(|| {
        TrainError::Config(format!(
            "{}, line {}: {} has no `label`; --task categorical trains on a category for every \
             row (give the manifest a `label` column, e.g. audio,label)",
            manifest.display(),
            e.line,
            e.audio.display()
        ))
    })
}

/// Class `k` of `n` as a distribution: 1 at `k`, 0 elsewhere.
pub fn one_hot(k: usize, n: usize) -> Vec<f32> {
    let mut v = vec![0.0; n];
    v[k] = 1.0;
    v
}

/// The index of the largest value (the first of equals, as the runtime's
/// `Probabilities::top` picks); 0 for an empty slice.
pub fn top(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn rows(labels: &[Option<&str>]) -> Vec<Example> {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| Example {
                audio: PathBuf::from(format!("u{i}.wav")),
                transcript: String::new(),
                labels: None,
                label: l.map(str::to_owned),
                line: i as u64 + 2,
            })
            .collect()
    }

    #[test]
    fn the_set_is_the_sorted_distinct_labels_or_the_order_given() {
        let m = Path::new("train.csv");
        let e = rows(&[Some("sad"), Some("angry"), Some("sad"), Some("happy")]);
        assert_eq!(label_set(&e, m, None).unwrap(), ["angry", "happy", "sad"]);
        let fixed = [
            "sad".to_owned(),
            "happy".into(),
            "angry".into(),
            "calm".into(),
        ];
        assert_eq!(
            label_set(&e, m, Some(&fixed)).unwrap(),
            ["sad", "happy", "angry", "calm"]
        );
        // A manifest spelling in another case is the same category.
        assert_eq!(class_of("Happy", &fixed), Some(1));
        assert_eq!(top(&[0.2, 0.5, 0.5, 0.1]), 1);
        assert_eq!(one_hot(2, 4), [0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn bad_label_sets_and_rows_are_named() {
        let m = Path::new("train.csv");
        let e = label_set(&rows(&[Some("a"), None]), m, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("train.csv, line 3: u1.wav has no `label`"),
            "{e}"
        );
        let e = label_set(&rows(&[Some("a"), Some("a")]), m, None).unwrap_err();
        assert!(e.to_string().contains("at least two"), "{e}");
        let e = label_set(&rows(&[Some("Sad"), Some("sad")]), m, None).unwrap_err();
        assert!(e.to_string().contains("\"Sad\" and \"sad\""), "{e}");
        let fixed = ["a".to_owned(), "b".into()];
        let e = label_set(&rows(&[Some("a"), Some("c")]), m, Some(&fixed)).unwrap_err();
        assert!(
            e.to_string()
                .contains("train.csv, line 3: the label \"c\" is not one of the categories the model learns (a, b)"),
            "{e}"
        );
        let many: Vec<String> = (0..=emoscope::reading::MAX_CATEGORIES)
            .map(|i| format!("c{i}"))
            .collect();
        let e = label_set(&[], m, Some(&many)).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("{} categories", many.len())),
            "{e}"
        );
    }
}
