//! Standard output (and error) that survive `| head` and a full disk.
//!
//! Rust ignores SIGPIPE, so printing into a closed pipe is an `EPIPE` error,
//! and `println!` turns that into a panic (exit 101). A reader that stops
//! early (`slowlane run … | head -1`) is not a failure of the run: once the
//! pipe is closed, output is dropped quietly and the command exits with its
//! own code. Any other write error (`> /dev/full`) is returned, so the
//! caller can say so and exit 1.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout turned out to be a closed pipe: nothing more is written.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Stdout as a writer with the closed-pipe rule above.
pub struct Out(io::StdoutLock<'static>);

/// Lock stdout for writing.
pub fn out() -> Out {
    Out(io::stdout().lock())
}

/// Whether stdout has been found to be a closed pipe.
pub fn closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// The width of the terminal stdout is, None when stdout is not a terminal
/// (a pipe or a file keeps long lines whole). `COLUMNS`, then 100, when the
/// terminal does not say.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ fills a winsize struct we own; on failure it is
    // left zeroed and the fallbacks apply.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        return Some(ws.ws_col as usize);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c > 0)
        .or(Some(100))
}

/// The text table's reason lines wrapped to the terminal's width; `text`
/// unchanged when stdout is not a terminal.
pub fn for_terminal(text: String) -> String {
    match terminal_width() {
        Some(w) => crate::analyze::wrap_reasons(&text, w),
        None => text,
    }
}

/// Write `text` to stdout and flush it.
pub fn print(text: &str) -> io::Result<()> {
    let mut o = out();
    o.write_all(text.as_bytes())?;
    o.flush()
}

/// Write a line to stderr, ignoring failure: `eprintln!` panics when stderr
/// is a closed pipe (`slowlane run … 2>&1 | head -1`), and a message that
/// cannot be shown must not turn a finished run into exit 101.
pub fn eprintln(text: &str) {
    let mut e = io::stderr().lock();
    let _ = e
        .write_all(text.as_bytes())
        .and_then(|_| e.write_all(b"\n"));
}

impl Out {
    fn guard<T>(&self, r: io::Result<T>, quiet: T) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                CLOSED.store(true, Ordering::Relaxed);
                Ok(quiet)
            }
            r => r,
        }
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if closed() {
            return Ok(buf.len());
        }
        let r = self.0.write(buf);
        self.guard(r, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if closed() {
            return Ok(());
        }
        let r = self.0.flush();
        self.guard(r, ())
    }
}

/// `eprintln!` that never panics: formats, then [`eprintln`] (a closed
/// stderr drops the message instead of ending the run with exit 101).
#[macro_export]
macro_rules! eprintln_quiet {
    ($($arg:tt)*) => {
        $crate::stdout::eprintln(&format!($($arg)*))
    };
}
