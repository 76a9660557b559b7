//! Birth dates: `MM/DD/YYYY` (one-digit month or day accepted) or `YYYY-MM-DD`;
//! a real calendar date, not in the future.

use chrono::NaiveDate;

/// Parses `raw` as of `today` (passed in so the rule stays pure and testable).
pub fn parse_birth_date(raw: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let value = raw.trim();
    let (year, month, day) = if let Some((m, rest)) = value.split_once('/') {
        let (d, y) = rest
            .split_once('/')
            .ok_or_else(|| format!("{value} is not a date in MM/DD/YYYY form"))?;
        if y.len() != 4 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
            return Err(format!("{value} is not a date in MM/DD/YYYY form"));
        }
        (y, m, d)
    } else if value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-' {
        (&value[0..4], &value[5..7], &value[8..10])
    } else {
        return Err(format!("{value} is not a date in MM/DD/YYYY form"));
    };
    let num = |s: &str| -> Result<u32, String> {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<u32>()
                .map_err(|_| format!("{value} is not a date in MM/DD/YYYY form"))
        } else {
            Err(format!("{value} is not a date in MM/DD/YYYY form"))
        }
    };
    let (y, m, d) = (num(year)?, num(month)?, num(day)?);
    if !(1..=12).contains(&m) {
        return Err(format!("{value} is not a real date: there is no month {m}"));
    }
    let date = i32::try_from(y)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| format!("{value} is not a real date"))?;
    if date > today {
        return Err(format!("{value} is in the future"));
    }
    if y < 1850 {
        return Err(format!("{value} is too long ago"));
    }
    Ok(date)
}

/// How forms and exports show a birth date.
pub fn format_birth_date(date: NaiveDate) -> String {
    date.format("%m/%d/%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid")
    }

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid")
    }

    #[test]
    fn accepts_both_forms_and_short_month_or_day() {
        assert_eq!(
            parse_birth_date("04/23/1982", today()),
            Ok(ymd(1982, 4, 23))
        );
        assert_eq!(parse_birth_date("1/5/1980", today()), Ok(ymd(1980, 1, 5)));
        assert_eq!(
            parse_birth_date(" 1982-04-23 ", today()),
            Ok(ymd(1982, 4, 23))
        );
        assert_eq!(
            parse_birth_date("02/29/2000", today()),
            Ok(ymd(2000, 2, 29))
        );
    }

    #[test]
    fn refuses_the_contract_s_bad_examples_with_a_reason() {
        assert!(
            parse_birth_date("02/30/1990", today())
                .expect_err("no 30 Feb")
                .contains("not a real date")
        );
        assert!(
            parse_birth_date("13/01/1990", today())
                .expect_err("no month 13")
                .contains("no month 13")
        );
        assert!(
            parse_birth_date("31/12/1990", today())
                .expect_err("no month 31")
                .contains("no month 31")
        );
        assert!(
            parse_birth_date("12/14/80", today()).is_err(),
            "two-digit years are ambiguous"
        );
        assert!(parse_birth_date("02/29/2001", today()).is_err());
        assert!(
            parse_birth_date("11/23/2026", today())
                .expect_err("future")
                .contains("future")
        );
        for bad in [
            "",
            "yesterday",
            "1990-1-1",
            "1990/01/01",
            "+1/01/1990",
            "01/-1/1990",
            "001/01/1990",
        ] {
            assert!(parse_birth_date(bad, today()).is_err(), "{bad}");
        }
        assert_eq!(
            parse_birth_date("11/22/2026", today()),
            Ok(today()),
            "today is fine"
        );
    }

    proptest! {
        #[test]
        fn formatted_dates_parse_back(days in 0i64..60000) {
            let date = ymd(1860, 1, 1) + chrono::Duration::days(days);
            prop_assume!(date <= today());
            prop_assert_eq!(parse_birth_date(&format_birth_date(date), today()), Ok(date));
            prop_assert_eq!(parse_birth_date(&date.format("%Y-%m-%d").to_string(), today()), Ok(date));
        }
    }
}
