//! Budget periods: the calendar day or month (UTC) a budget resets over, or all time.

use std::time::Duration;

use strata_config::BudgetPeriod;

/// One period of a budget: its id (part of the counter's key), when it began, and how long
/// until it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub id: String,
    pub start_ms: i64,
    /// `None` for `total`.
    pub remaining: Option<Duration>,
}

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 as (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) as days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Period {
    /// The period of `kind` that `now_ms` falls in.
    #[must_use]
    pub fn of(kind: BudgetPeriod, now_ms: i64) -> Self {
        let days = now_ms.div_euclid(DAY_MS);
        let (y, m, d) = civil(days);
        let until = |end_ms: i64| Some(Duration::from_millis((end_ms - now_ms).max(0) as u64));
        match kind {
            BudgetPeriod::Daily => Self {
                id: format!("{y:04}-{m:02}-{d:02}"),
                start_ms: days * DAY_MS,
                remaining: until((days + 1) * DAY_MS),
            },
            BudgetPeriod::Monthly => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                Self {
                    id: format!("{y:04}-{m:02}"),
                    start_ms: days_from_civil(y, m, 1) * DAY_MS,
                    remaining: until(days_from_civil(ny, nm, 1) * DAY_MS),
                }
            }
            BudgetPeriod::Total => Self {
                id: "total".into(),
                start_ms: 0,
                remaining: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_months_and_ever() {
        // 2026-11-25T13:00:00Z
        let now = 1_795_611_600_000;
        let day = Period::of(BudgetPeriod::Daily, now);
        assert_eq!(day.id, "2026-11-25");
        assert_eq!(day.start_ms, 1_795_564_800_000);
        assert_eq!(day.remaining, Some(Duration::from_secs(11 * 3600)));
        let month = Period::of(BudgetPeriod::Monthly, now);
        assert_eq!(month.id, "2026-11");
        assert_eq!(month.start_ms, 1_793_491_200_000); // 2026-11-01
        assert_eq!(
            month.remaining,
            Some(Duration::from_millis((1_796_083_200_000 - now) as u64)) // 2026-12-01
        );
        let december = Period::of(BudgetPeriod::Monthly, 1_796_083_200_000 + 5);
        assert_eq!(december.id, "2026-12");
        assert_eq!(
            Period::of(BudgetPeriod::Monthly, 1_798_761_600_000).id,
            "2027-01"
        );
        let ever = Period::of(BudgetPeriod::Total, now);
        assert_eq!(
            (ever.id.as_str(), ever.start_ms, ever.remaining),
            ("total", 0, None)
        );
        assert_eq!(civil(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }
}
