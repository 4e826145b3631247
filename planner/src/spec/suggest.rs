//! "Did you mean" suggestions for misspelled names: the one implementation and the one
//! wording, used by the spec's checks, the graph passes and the engine alike.

/// The candidate closest to `name`, when it is close enough to be a plausible typo.
pub fn closest<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let len = name.chars().count();
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit && *d < len)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// ` (did you mean "x"?)` or nothing, ready to append to a message.
pub fn did_you_mean<'a, I>(name: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    closest(name, candidates)
        .map(|c| format!(" (did you mean \"{c}\"?)"))
        .unwrap_or_default()
}

/// Edit distance where a swap of two neighbouring characters counts as one edit (optimal
/// string alignment), case-insensitive so `Region` suggests `region`.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, candidates: &[&str], expected: Option<&str>) {
        assert_eq!(
            closest(name, candidates.iter().copied()),
            expected,
            "{name}"
        );
    }

    #[test]
    fn suggestions() {
        check("regoin", &["region", "zones"], Some("region"));
        check("resouce", &["resource", "output"], Some("resource"));
        check("Region", &["region"], Some("region"));
        check("xyz", &["region", "zones"], None);
        check("cidr", &["cidr"], None);
        check("nope", &["name"], None);
        check("z", &["a"], None);
        check("vr", &["var"], Some("var"));
        check("kye", &["key", "value"], Some("key"));
    }
}
