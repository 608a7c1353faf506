//! The sentences of the synthetic corpus: matched positive / negative pairs
//! of identical structure, so that the words that carry valence are the only
//! difference between the two sentences of a pair.

/// Sentence frames; `{A}` takes an evaluative adjective, `{F}` a feeling.
const TEMPLATES: [&str; 12] = [
    "The results were {A} and everyone was {F}.",
    "Our trip to the coast was {A} and the children were {F}.",
    "The food at the party was {A} and the guests were {F}.",
    "Her new song is {A} and her fans are {F}.",
    "The weather this weekend was {A} and we were {F}.",
    "His speech last night was {A} and the audience was {F}.",
    "The doctor said the news was {A} and my family is {F}.",
    "The final match was {A} and the players were {F}.",
    "My first day at the new job was {A} and I felt {F}.",
    "The film we saw on Friday was {A} and my friends were {F}.",
    "The garden looks {A} this spring and my mother is {F}.",
    "The exam results came back {A} and the students were {F}.",
];

/// (positive adjective, negative adjective, positive feeling, negative feeling).
const WORDS: [(&str, &str, &str, &str); 6] = [
    ("wonderful", "terrible", "delighted", "miserable"),
    ("excellent", "awful", "thrilled", "devastated"),
    ("beautiful", "horrible", "happy", "unhappy"),
    ("fantastic", "dreadful", "overjoyed", "heartbroken"),
    ("lovely", "nasty", "cheerful", "gloomy"),
    ("brilliant", "disastrous", "proud", "ashamed"),
];

/// One matched pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentencePair {
    /// The positive sentence (valence 0.8).
    pub positive: String,
    /// The negative sentence (valence 0.2), the same frame with the opposite words.
    pub negative: String,
}

/// Every pair: each frame with each word set (12 × 6 = 72 pairs).
pub fn pairs() -> Vec<SentencePair> {
    let mut out = Vec::with_capacity(TEMPLATES.len() * WORDS.len());
    for t in TEMPLATES {
        for (pa, na, pf, nf) in WORDS {
            out.push(SentencePair {
                positive: t.replace("{A}", pa).replace("{F}", pf),
                negative: t.replace("{A}", na).replace("{F}", nf),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_many_distinct_and_differ_only_in_the_emotion_words() {
        let p = pairs();
        assert!(p.len() >= 60);
        let mut all: Vec<&str> = p
            .iter()
            .flat_map(|x| [x.positive.as_str(), x.negative.as_str()])
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 2 * p.len(), "every sentence is distinct");
        for x in &p {
            let a: Vec<&str> = x.positive.split(' ').collect();
            let b: Vec<&str> = x.negative.split(' ').collect();
            assert_eq!(a.len(), b.len(), "{x:?}");
            // Exactly the two slot words differ.
            assert_eq!(a.iter().zip(&b).filter(|(u, v)| u != v).count(), 2, "{x:?}");
        }
    }
}
