//! The progress bar of a long run: on a terminal only, never in logs.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// `total`: fetches expected, when the number of rounds is known.
    pub fn new(quiet: bool, total: Option<u64>) -> Progress {
        let visible = !quiet && std::io::stderr().is_terminal();
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        if visible {
            let style = match total {
                Some(_) => "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}",
                None => "{elapsed_precise} {spinner} {pos} fetches {msg}",
            };
            bar.set_style(
                ProgressStyle::with_template(style)
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_draw_target(ProgressDrawTarget::stderr());
        } else {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Progress { bar }
    }

    pub fn update(&self, round: u32, errors: u64, slowest: Option<String>) {
        self.bar.inc(1);
        let slow = slowest
            .map(|s| format!(" | slowest {s}"))
            .unwrap_or_default();
        self.bar
            .set_message(format!("round {} | errors {errors}{slow}", round + 1));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
