//! Fault injection: throttling, server errors and latency, as the settings ask.

use std::time::Duration;

/// The fault injection a simulator runs with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Fraction of mutating requests answered with an injected server error.
    pub fail_rate: f64,
    /// Fraction of API requests answered with an injected throttling error.
    pub throttle_rate: f64,
    /// Added before every API answer.
    pub latency: Duration,
}

/// What fault injection does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: the request is answered as it should be.
    None,
    /// Answered with a throttling error; nothing is done.
    Throttled,
    /// Answered with a server error; nothing is done.
    Before,
    /// Carried out, then answered with a server error (the client cannot know it worked).
    AfterSuccess,
}

impl Fault {
    /// The mark the request log gives the answer this fault makes up, if any.
    pub fn label(self) -> Option<&'static str> {
        match self {
            Fault::None => None,
            Fault::Throttled => Some("throttled"),
            Fault::Before => Some("failed"),
            Fault::AfterSuccess => Some("done-then-failed"),
        }
    }
}

impl Faults {
    /// Draws the fault of one request from `roll` (a uniform fraction in `[0, 1)`, from the
    /// world's seeded source, so that a seed replays the same faults): first throttling, at
    /// `throttle_rate` of every request; then, for a `mutating` one, a failure at
    /// `fail_rate`, of which half of the `creating` ones happen after the work is done.
    /// Rolls only as many numbers as the rates need, always in that order.
    pub fn draw(&self, mut roll: impl FnMut() -> f64, mutating: bool, creating: bool) -> Fault {
        if self.throttle_rate > 0.0 && roll() < self.throttle_rate {
            return Fault::Throttled;
        }
        if !(mutating && self.fail_rate > 0.0 && roll() < self.fail_rate) {
            return Fault::None;
        }
        if creating && roll() < 0.5 {
            Fault::AfterSuccess
        } else {
            Fault::Before
        }
    }

    /// Waits the configured latency.
    pub async fn pause(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(fail_rate: f64, throttle_rate: f64) -> Faults {
        Faults {
            fail_rate,
            throttle_rate,
            latency: Duration::ZERO,
        }
    }

    /// A roll source answering `rolls` in turn and counting how many were taken.
    fn draw(f: Faults, rolls: &[f64], mutating: bool, creating: bool) -> (Fault, usize) {
        let mut taken = 0;
        let fault = f.draw(
            || {
                let r = rolls.get(taken).copied().unwrap_or(0.99);
                taken += 1;
                r
            },
            mutating,
            creating,
        );
        (fault, taken)
    }

    #[test]
    fn no_rates_roll_nothing() {
        assert_eq!(draw(faults(0.0, 0.0), &[], true, true), (Fault::None, 0));
    }

    #[test]
    fn throttling_comes_first_and_stops_the_draw() {
        assert_eq!(
            draw(faults(1.0, 0.5), &[0.1], true, true),
            (Fault::Throttled, 1)
        );
        assert_eq!(
            draw(faults(1.0, 0.5), &[0.7, 0.1, 0.9], true, true),
            (Fault::Before, 3)
        );
    }

    #[test]
    fn reads_never_fail_and_half_the_failed_creates_are_done() {
        assert_eq!(
            draw(faults(1.0, 0.0), &[0.1], false, false),
            (Fault::None, 0)
        );
        assert_eq!(
            draw(faults(1.0, 0.0), &[0.1, 0.2], true, true),
            (Fault::AfterSuccess, 2)
        );
        assert_eq!(
            draw(faults(1.0, 0.0), &[0.1], true, false),
            (Fault::Before, 1)
        );
    }
}
