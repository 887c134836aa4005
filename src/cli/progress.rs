//! A progress bar on the terminal for long reads (large logs, sampling): one line on stderr,
//! redrawn in place, and erased when the command ends. Nothing is drawn when stderr is not a
//! terminal (piped, redirected, CI), so scripts see only the result.

use std::io::{IsTerminal, Write};

use crate::progress::{Progress, Update};

/// Width of the bar in characters.
const WIDTH: usize = 30;

/// Progress drawn on stderr when it is a terminal; none otherwise.
pub fn on_terminal() -> Bar {
    let progress = if std::io::stderr().is_terminal() {
        Progress::to(draw)
    } else {
        Progress::none()
    };
    Bar { progress }
}

/// The terminal's progress; erases its line when dropped.
pub struct Bar {
    pub progress: Progress,
}

impl Drop for Bar {
    fn drop(&mut self) {
        if self.progress.is_listening() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

fn draw(update: Update) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{}", line(&update));
    let _ = err.flush();
}

/// `[#########---------]  45% read 90 of 200 MB of access log`
fn line(update: &Update) -> String {
    let filled = ((update.percent / 100.0) * WIDTH as f64).round() as usize;
    let filled = filled.min(WIDTH);
    format!(
        "[{}{}] {:>3.0}% {}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        update.percent,
        update.message
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_percentage() {
        let l = line(&Update {
            percent: 50.0,
            message: "sampling".into(),
        });
        assert_eq!(
            l,
            format!("[{}{}]  50% sampling", "#".repeat(15), "-".repeat(15))
        );
        let full = line(&Update {
            percent: 100.0,
            message: String::new(),
        });
        assert!(
            full.starts_with(&format!("[{}]", "#".repeat(WIDTH))),
            "{full}"
        );
    }
}
