//! The overview's charts, drawn by doorman as SVG: each bar's geometry computed here,
//! its label and number written beside it as text, so the chart reads without colour.

use crate::service::CampaignStats;

/// Chart width in SVG units; it scales to the card.
pub const WIDTH: i64 = 640;
const LABEL: i64 = 190;
const NUMBER: i64 = 80;
const ROW: i64 = 34;
const BAR: i64 = 22;

/// One horizontal bar of the funnel.
pub struct Bar {
    pub label: &'static str,
    pub count: i64,
    /// Share of everyone invited, as "42%".
    pub share: String,
    pub y: i64,
    pub text_y: i64,
    pub width: i64,
    /// The main steps are solid; the ones beside them are hatched.
    pub beside: bool,
}

pub struct Funnel {
    pub bars: Vec<Bar>,
    pub height: i64,
    pub bar_x: i64,
    pub number_x: i64,
    pub summary: String,
}

fn share(count: i64, of: i64) -> String {
    if of <= 0 {
        return "0%".to_owned();
    }
    format!("{}%", (count * 100 + of / 2) / of)
}

pub fn funnel(stats: &CampaignStats) -> Funnel {
    let f = &stats.funnel;
    let steps: [(&'static str, i64, bool); 8] = [
        ("Invited", f.invited, false),
        ("Emailed", f.emailed, false),
        ("Delivered", f.delivered, false),
        ("Joined Discord", stats.members.joined, false),
        ("Verified", f.verified, false),
        ("Expired", f.expired, true),
        ("Bounced or failed", f.bounced_or_failed, true),
        ("Kicked", stats.members.kicked, true),
    ];
    let most = steps.iter().map(|(_, c, _)| *c).max().unwrap_or(0).max(1);
    let span = WIDTH - LABEL - NUMBER;
    let mut y = 0;
    let bars = steps
        .into_iter()
        .enumerate()
        .map(|(i, (label, count, beside))| {
            // A gap between the funnel and what falls out of it.
            if i == 5 {
                y += ROW / 2;
            }
            let bar = Bar {
                label,
                count,
                share: share(count, f.invited),
                y,
                text_y: y + BAR / 2 + 5,
                width: if count > 0 {
                    (count * span / most).max(2)
                } else {
                    0
                },
                beside,
            };
            y += ROW;
            bar
        })
        .collect();
    Funnel {
        bars,
        height: y,
        bar_x: LABEL,
        number_x: WIDTH - NUMBER + 8,
        summary: format!(
            "{} invited, {} emailed, {} delivered, {} joined Discord, {} verified; beside them {} expired, {} bounced or failed, {} kicked.",
            f.invited,
            f.emailed,
            f.delivered,
            stats.members.joined,
            f.verified,
            f.expired,
            f.bounced_or_failed,
            stats.members.kicked
        ),
    }
}

/// One day's column.
pub struct Column {
    pub label: String,
    pub date: String,
    pub count: i64,
    pub x: i64,
    pub y: i64,
    pub height: i64,
    pub label_x: i64,
    pub show_label: bool,
}

pub struct Daily {
    pub columns: Vec<Column>,
    pub width: i64,
    pub column_width: i64,
    pub base_y: i64,
    pub height: i64,
    pub most: i64,
    pub total: i64,
}

const DAILY_PLOT: i64 = 120;

pub fn daily(stats: &CampaignStats) -> Daily {
    let days = &stats.verifications_per_day;
    let most = days.iter().map(|(_, c)| *c).max().unwrap_or(0);
    let slot = WIDTH / i64::try_from(days.len().max(1)).unwrap_or(1);
    let column_width = (slot * 2 / 3).max(4);
    let top = 18;
    let columns = days
        .iter()
        .enumerate()
        .map(|(i, (day, count))| {
            let i = i64::try_from(i).unwrap_or(0);
            let height = if most > 0 {
                (count * DAILY_PLOT / most).max(i64::from(*count > 0) * 2)
            } else {
                0
            };
            let x = i * slot + (slot - column_width) / 2;
            Column {
                label: day.format("%b %-d").to_string(),
                date: day.format("%Y-%m-%d").to_string(),
                count: *count,
                x,
                y: top + DAILY_PLOT - height,
                height,
                label_x: x + column_width / 2,
                // Every other day is labelled, and the last (today) always.
                show_label: (i64::try_from(days.len()).unwrap_or(0) - 1 - i) % 2 == 0,
            }
        })
        .collect();
    Daily {
        columns,
        width: WIDTH,
        column_width,
        base_y: top + DAILY_PLOT,
        height: top + DAILY_PLOT + 22,
        most,
        total: days.iter().map(|(_, c)| c).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{FunnelCounts, MemberCounts};

    #[test]
    fn bars_are_proportional_and_the_numbers_are_in_the_summary() {
        let stats = CampaignStats {
            funnel: FunnelCounts {
                invited: 200,
                emailed: 100,
                delivered: 0,
                verified: 50,
                expired: 3,
                bounced_or_failed: 1,
            },
            members: MemberCounts {
                joined: 60,
                kicked: 2,
            },
            ..CampaignStats::default()
        };
        let chart = funnel(&stats);
        let span = WIDTH - LABEL - NUMBER;
        assert_eq!(chart.bars[0].width, span);
        assert_eq!(chart.bars[1].width, span / 2);
        assert_eq!(chart.bars[2].width, 0);
        assert_eq!(chart.bars[4].share, "25%");
        assert!(chart.bars[5].beside && !chart.bars[4].beside);
        assert!(
            chart
                .summary
                .starts_with("200 invited, 100 emailed, 0 delivered, 60 joined")
        );
        assert_eq!(share(1, 3), "33%");
        assert_eq!(share(5, 0), "0%");
    }

    #[test]
    fn an_empty_campaign_draws_no_bars() {
        let stats = CampaignStats::default();
        assert!(funnel(&stats).bars.iter().all(|b| b.width == 0));
        assert_eq!(daily(&stats).total, 0);
    }
}
