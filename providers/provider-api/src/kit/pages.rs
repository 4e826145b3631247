//! Pagination: an API that answers a page of items and a token for the next page.

use std::future::Future;

/// Asks for pages until the answer has no next token (an empty token counts as none), and
/// answers every item in order. `page(token)` is called with `None` first.
pub async fn collect<T, E, F, Fut>(mut page: F) -> Result<Vec<T>, E>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), E>>,
{
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let (items, next) = page(token).await?;
        out.extend(items);
        match next.filter(|t| !t.is_empty()) {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn follows_tokens_until_there_is_none() {
        let pages = [
            (vec![1, 2], Some("b".to_string())),
            (vec![3], Some(String::new())),
        ];
        let mut asked = Vec::new();
        let got: Result<Vec<i32>, ()> = collect(|token| {
            asked.push(token.clone());
            let i = usize::from(token.is_some());
            let page = pages[i].clone();
            async move { Ok(page) }
        })
        .await;
        assert_eq!(got, Ok(vec![1, 2, 3]));
        assert_eq!(asked, vec![None, Some("b".to_string())]);
    }

    #[tokio::test]
    async fn an_error_stops_the_walk() {
        let got: Result<Vec<i32>, &str> = collect(|_| async { Err("denied") }).await;
        assert_eq!(got, Err("denied"));
    }
}
