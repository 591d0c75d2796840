//! The campaign at a glance: the funnel, verifications per day, the email queue.

use chrono::{Days, NaiveDate};

use super::{Doorman, ServiceError};
pub use crate::store::{FunnelCounts, MemberCounts};

/// How many days the verifications chart covers, today included.
pub const CHART_DAYS: u64 = 14;

#[derive(Debug, Clone, Default)]
pub struct CampaignStats {
    pub funnel: FunnelCounts,
    pub members: MemberCounts,
    /// One entry per day, oldest first, today last; days without any count zero.
    pub verifications_per_day: Vec<(NaiveDate, i64)>,
    /// Emails by status (`queued`, `sent`, `failed`, …), only those with any.
    pub emails: Vec<(String, i64)>,
}

/// Every day of the chart, with the counts found (keyed `YYYY-MM-DD`) or zero.
fn every_day(today: NaiveDate, found: &[(String, i64)]) -> Vec<(NaiveDate, i64)> {
    (0..CHART_DAYS)
        .rev()
        .filter_map(|back| today.checked_sub_days(Days::new(back)))
        .map(|day| {
            let key = day.format("%Y-%m-%d").to_string();
            let count = found.iter().find(|(d, _)| *d == key).map_or(0, |(_, c)| *c);
            (day, count)
        })
        .collect()
}

impl Doorman {
    #[tracing::instrument(skip_all)]
    pub async fn campaign_stats(&self) -> Result<CampaignStats, ServiceError> {
        let now = self.now();
        let store = self.store();
        let today = now.date_naive();
        let first_day = today
            .checked_sub_days(Days::new(CHART_DAYS - 1))
            .unwrap_or(today);
        let since = first_day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let per_day = store.verifications_per_day(since).await?;
        Ok(CampaignStats {
            funnel: store.funnel_counts(now).await?,
            members: store.member_counts().await?,
            verifications_per_day: every_day(today, &per_day),
            emails: store.email_status_counts().await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_every_day_up_to_today() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let days = every_day(today, &[("2026-02-28".into(), 4), ("2026-03-02".into(), 1)]);
        assert_eq!(days.len(), CHART_DAYS as usize);
        assert_eq!(days.last(), Some(&(today, 1)));
        assert_eq!(days[CHART_DAYS as usize - 3].1, 4);
        assert_eq!(days[0].0, NaiveDate::from_ymd_opt(2026, 2, 17).unwrap());
        assert_eq!(days.iter().map(|(_, c)| c).sum::<i64>(), 5);
    }
}
