//! Writing to stdout and stderr while ignoring a closed pipe (`ss state list | head`): output
//! is best-effort, and an apply must not stop because whoever read its output went away.
//! Declared first in `main.rs` with `#[macro_use]`, so every module of the binary has these.

/// Writes a line to stdout, ignoring a closed pipe.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// Like [`outln!`] without the newline.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// Like [`outln!`], on stderr.
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}
