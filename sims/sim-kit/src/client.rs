//! A minimal HTTP/1.1 client for talking to a simulator on the wire, exactly as sent: the
//! simulators' tests and `gcp-sim replay` use it, so that what reaches the server is not
//! shaped by a client library.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One answer, read to its end.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The status line and header lines, as received.
    pub head: String,
    /// The body, de-chunked, as text (lossy).
    pub body: String,
}

impl Answer {
    /// Whether a header line `name: …` is present (names compare without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
}

/// Sends one request to `host` (`HOST:PORT`) with `Connection: close` and reads the whole
/// answer. `headers` are extra header lines, each ending in `\r\n`.
pub async fn send(
    host: &str,
    method: &str,
    target: &str,
    headers: &str,
    body: &str,
) -> Result<Answer, String> {
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| format!("cannot connect to {host}: {e}"))?;
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send the request: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("cannot read the answer: {e}"))?;
    parse_answer(&raw)
}

/// Reads a whole HTTP/1.1 answer.
pub fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("the answer has no status code")?;
    let mut answer = Answer {
        status,
        head,
        body: String::new(),
    };
    let rest = &raw[head_end + 4..];
    let chunked = answer
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let payload = if chunked {
        dechunk(rest).ok_or("the answer's chunked body is malformed")?
    } else {
        rest.to_vec()
    };
    answer.body = String::from_utf8_lossy(&payload).into_owned();
    Ok(answer)
}

/// Decodes a `Transfer-Encoding: chunked` body.
pub fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_plain_or_chunked() {
        let plain = parse_answer(b"HTTP/1.1 201 Created\r\nX-A: b\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!((plain.status, plain.body.as_str()), (201, "{\"a\":1}"));
        assert_eq!(plain.header("x-a"), Some("b"));
        let chunked = parse_answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked.body, "abcde");
        assert!(
            parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
        assert!(parse_answer(b"garbage").is_err());
    }
}
