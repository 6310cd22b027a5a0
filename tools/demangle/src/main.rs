//! Reads Rust symbol names (v0 `_R…` or legacy `_ZN…`), one per line, on stdin and writes
//! each demangled on its own line to stdout, crate hashes kept (`imcore[d5fd…]::web::…`);
//! a line that is no Rust symbol comes out as it went in.
//!
//! For scripts/size-twiggy.mjs: a module wasm-bindgen never saw (`imcore/mqtt`) keeps the
//! mangled names rustc gave its functions, and the leave-one-out shares of `make size`
//! group functions by the crate and module their demangled names start with.
//! (wasm-bindgen demangles the name section with this same crate.)

use std::io::{self, BufRead, BufWriter, Write};

fn main() -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    for line in io::stdin().lock().lines() {
        writeln!(out, "{}", rustc_demangle::demangle(&line?))?;
    }
    out.flush()
}
