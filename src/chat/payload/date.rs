//! The `create_time` format, public because the reference server (imcore-server) writes
//! the same field and must not drift from what the client's encoder writes.

/// `"YYYY-MM-DD HH:MM:SS"` of Unix ms, in UTC: the `create_time` of PROTOCOL.md (the seed
/// formats the server's local time; receivers ignore it).
pub fn utc_date_time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days to a civil date (H. Hinnant's `civil_from_days`), unsigned: days ≥ 0.
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date_time(0), "1970-01-01 00:00:00");
        assert_eq!(utc_date_time(1_717_214_400_123), "2024-06-01 04:00:00");
        assert_eq!(utc_date_time(951_868_799_999), "2000-02-29 23:59:59");
        assert_eq!(utc_date_time(951_868_800_000), "2000-03-01 00:00:00");
        assert_eq!(utc_date_time(4_102_444_800_000), "2100-01-01 00:00:00");
        assert!(!utc_date_time(u64::MAX).is_empty());
    }
}
