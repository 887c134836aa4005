//! How a long list in a report was bounded, in the one shape every tool uses:
//! `"lists": {"endpoints": {"total": 41, "returned": 25, "truncated": true}}`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many items a list had and how many are listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Bound {
    /// Items there were.
    pub total: usize,
    /// Items listed.
    pub returned: usize,
    /// Whether some were left out.
    pub truncated: bool,
}

impl Bound {
    pub fn new(total: usize, returned: usize) -> Self {
        Self {
            total,
            returned,
            truncated: returned < total,
        }
    }

    /// Cuts `items` to its first `max` and says how many there were.
    pub fn cut<T>(items: &mut Vec<T>, max: usize) -> Self {
        let total = items.len();
        items.truncate(max);
        Self::new(total, items.len())
    }
}

/// The bounds of a report's long lists, by the list's field name.
pub type Lists = BTreeMap<String, Bound>;

/// The bounds of the lists that have any item, by name.
pub fn lists<'a>(bounds: impl IntoIterator<Item = (&'a str, Bound)>) -> Lists {
    bounds
        .into_iter()
        .filter(|(_, b)| b.total > 0)
        .map(|(name, b)| (name.to_owned(), b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_list_says_how_many_there_were() {
        let mut v: Vec<u32> = (0..30).collect();
        assert_eq!(
            Bound::cut(&mut v, 25),
            Bound {
                total: 30,
                returned: 25,
                truncated: true
            }
        );
        assert_eq!(v.len(), 25);
        let mut short = vec![1, 2];
        assert!(!Bound::cut(&mut short, 25).truncated);
        assert_eq!(Bound::new(3, 3).total, 3);
        let named = lists([
            ("endpoints", Bound::new(3, 2)),
            ("running", Bound::new(0, 0)),
        ]);
        assert_eq!(named.keys().collect::<Vec<_>>(), ["endpoints"]);
    }
}
