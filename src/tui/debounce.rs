//! Search-as-you-type pacing: when a query edit starts a search.

use std::time::{Duration, Instant};

/// Default debounce interval of search as you type.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Search-as-you-type pacing. A change starts a search at once when the last one started long
/// enough ago, else when that time has passed, so a burst of keys costs a few searches, not one
/// per key. "Long enough" grows with what a search costs (three times the last one, at least
/// [`MIN_GAP`]) up to the configured interval: a small folder updates on every keystroke, a
/// library of a million images is searched at most about seven times a second.
#[derive(Debug, Clone)]
pub struct Debounce {
    interval: Duration,
    /// What the last search took.
    pub cost: Duration,
    last_fire: Option<Instant>,
    due: Option<Instant>,
}

/// The shortest gap between two searches started by typing.
pub const MIN_GAP: Duration = Duration::from_millis(20);

impl Debounce {
    /// Nothing due; until a search has been timed, its cost is taken to be the interval.
    pub fn new(interval: Duration) -> Self {
        Debounce {
            interval,
            cost: interval,
            last_fire: None,
            due: None,
        }
    }

    pub fn gap(&self) -> Duration {
        (self.cost * 3).clamp(MIN_GAP.min(self.interval), self.interval)
    }

    pub fn changed(&mut self, now: Instant) {
        let earliest = self.last_fire.map_or(now, |t| t + self.gap());
        self.due = Some(earliest.max(now));
    }

    pub fn fire_now(&mut self, now: Instant) {
        self.due = Some(now);
    }

    pub fn cancel(&mut self) {
        self.due = None;
    }

    /// Whether a search is due now.
    pub fn poll(&mut self, now: Instant) -> bool {
        match self.due {
            Some(due) if due <= now => {
                self.due = None;
                self.last_fire = Some(now);
                true
            }
            _ => false,
        }
    }

    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.due.map(|d| d.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debounce_goes_at_once_after_a_pause_and_paces_bursts_by_cost() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = Debounce::new(ms(150));
        d.changed(t0);
        assert!(d.poll(t0), "first key searches at once");
        d.changed(t0 + ms(10));
        assert!(!d.poll(t0 + ms(10)));
        assert_eq!(d.wait(t0 + ms(10)), Some(ms(140)), "capped at the interval");
        assert!(d.poll(t0 + ms(150)));
        // Cheap searches: the gap shrinks to three times their cost.
        d.cost = ms(10);
        d.changed(t0 + ms(160));
        assert!(!d.poll(t0 + ms(160)));
        assert!(d.poll(t0 + ms(180)));
        // Never below the minimum gap.
        d.cost = ms(1);
        d.changed(t0 + ms(181));
        assert_eq!(d.wait(t0 + ms(181)), Some(MIN_GAP - ms(1)));
        d.cancel();
        assert!(!d.poll(t0 + ms(1000)));
    }
}
