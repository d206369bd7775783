//! INFO's `instantaneous_*` figures. Redis samples its counters every 100 ms; we
//! sample them when INFO asks, which gives the average over the interval between
//! two INFO calls (at least 100 ms apart; a closer call repeats the last figures).

use std::time::Instant;

/// The counters behind the rates: commands processed, bytes in, bytes out.
#[derive(Clone, Copy, Default)]
pub struct Counts {
    pub commands: u64,
    pub input: u64,
    pub output: u64,
}

/// Commands per second, KB/s in, KB/s out.
pub type Figures = (u64, f64, f64);

/// The previous sample and the figures it gave.
pub struct Rates {
    at: Option<Instant>,
    last: Counts,
    figures: Figures,
}

impl Rates {
    pub const fn new() -> Rates {
        Rates {
            at: None,
            last: Counts {
                commands: 0,
                input: 0,
                output: 0,
            },
            figures: (0, 0.0, 0.0),
        }
    }

    /// The rates since the previous sample, taking `now` as the next one.
    pub fn sample(&mut self, now: Instant, c: Counts) -> Figures {
        if let Some(at) = self.at {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            if dt < 0.1 {
                return self.figures;
            }
            let d = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
            self.figures = (
                d(c.commands, self.last.commands) as u64,
                d(c.input, self.last.input) / 1024.0,
                d(c.output, self.last.output) / 1024.0,
            );
        }
        self.at = Some(now);
        self.last = c;
        self.figures
    }
}

impl Default for Rates {
    fn default() -> Rates {
        Rates::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rates_between_samples() {
        let t0 = Instant::now();
        let mut r = Rates::new();
        let c = |commands, input, output| Counts {
            commands,
            input,
            output,
        };
        assert_eq!(r.sample(t0, c(10, 0, 0)), (0, 0.0, 0.0));
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(r.sample(t1, c(210, 4096, 2048)), (100, 2.0, 1.0));
        // Too close to the previous sample: the same figures.
        assert_eq!(
            r.sample(t1 + Duration::from_millis(50), c(999, 0, 0)),
            (100, 2.0, 1.0)
        );
        // Nothing happened for a second: zero.
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(r.sample(t2, c(210, 4096, 2048)), (0, 0.0, 0.0));
    }
}
