//! Countries (ISO 3166-1): accepted as an English name, alpha-2 or alpha-3 code,
//! stored as alpha-2; and the telephone calling code of each, for phone entry.

use std::{collections::HashMap, str::FromStr, sync::OnceLock};

/// Calling codes by alpha-2 code (ITU E.164 assignments).
const CALLING_CODES: &str = "AF93 AX358 AL355 DZ213 AS1684 AD376 AO244 AI1264 AQ672 AG1268 AR54 AM374 AW297 AU61 AT43 \
AZ994 BS1242 BH973 BD880 BB1246 BY375 BE32 BZ501 BJ229 BM1441 BT975 BO591 BQ599 BA387 BW267 BV47 BR55 IO246 BN673 \
BG359 BF226 BI257 CV238 KH855 CM237 CA1 KY1345 CF236 TD235 CL56 CN86 CX61 CC61 CO57 KM269 CG242 CD243 CK682 CR506 \
CI225 HR385 CU53 CW599 CY357 CZ420 DK45 DJ253 DM1767 DO1809 EC593 EG20 SV503 GQ240 ER291 EE372 SZ268 ET251 FK500 \
FO298 FJ679 FI358 FR33 GF594 PF689 TF262 GA241 GM220 GE995 DE49 GH233 GI350 GR30 GL299 GD1473 GP590 GU1671 GT502 \
GG44 GN224 GW245 GY592 HT509 HM672 VA39 HN504 HK852 HU36 IS354 IN91 ID62 IR98 IQ964 IE353 IM44 IL972 IT39 JM1876 \
JP81 JE44 JO962 KZ7 KE254 KI686 KP850 KR82 KW965 KG996 LA856 LV371 LB961 LS266 LR231 LY218 LI423 LT370 LU352 MO853 \
MG261 MW265 MY60 MV960 ML223 MT356 MH692 MQ596 MR222 MU230 YT262 MX52 FM691 MD373 MC377 MN976 ME382 MS1664 MA212 \
MZ258 MM95 NA264 NR674 NP977 NL31 NC687 NZ64 NI505 NE227 NG234 NU683 NF672 MK389 MP1670 NO47 OM968 PK92 PW680 \
PS970 PA507 PG675 PY595 PE51 PH63 PN64 PL48 PT351 PR1787 QA974 RE262 RO40 RU7 RW250 BL590 SH290 KN1869 LC1758 \
MF590 PM508 VC1784 WS685 SM378 ST239 SA966 SN221 RS381 SC248 SL232 SG65 SX1721 SK421 SI386 SB677 SO252 ZA27 GS500 \
SS211 ES34 LK94 SD249 SR597 SJ47 SE46 CH41 SY963 TW886 TJ992 TZ255 TH66 TL670 TG228 TK690 TO676 TT1868 TN216 \
TR90 TM993 TC1649 TV688 UG256 UA380 AE971 GB44 US1 UM1 UY598 UZ998 VU678 VE58 VN84 VG1284 VI1340 WF681 EH212 \
YE967 ZM260 ZW263";

/// Names people use that the ISO list does not carry.
const EXTRA_NAMES: &[(&str, &str)] = &[
    ("uk", "GB"),
    ("greatbritain", "GB"),
    ("england", "GB"),
    ("southkorea", "KR"),
    ("northkorea", "KP"),
];

/// Short everyday names where the ISO long name reads awkwardly.
const DISPLAY_NAMES: &[(&str, &str)] = &[
    ("BO", "Bolivia"),
    ("BQ", "Caribbean Netherlands"),
    ("CD", "Congo (Democratic Republic)"),
    ("CG", "Congo"),
    ("CI", "Côte d'Ivoire"),
    ("CW", "Curaçao"),
    ("FM", "Micronesia"),
    ("GB", "United Kingdom"),
    ("IR", "Iran"),
    ("KP", "North Korea"),
    ("KR", "South Korea"),
    ("LA", "Laos"),
    ("MD", "Moldova"),
    ("MK", "North Macedonia"),
    ("PS", "Palestine"),
    ("RE", "Réunion"),
    ("RU", "Russia"),
    ("SY", "Syria"),
    ("TW", "Taiwan"),
    ("TZ", "Tanzania"),
    ("US", "United States"),
    ("VE", "Venezuela"),
    ("VN", "Vietnam"),
    ("AX", "Åland Islands"),
    ("BL", "Saint Barthélemy"),
    ("ST", "São Tomé and Príncipe"),
    ("VA", "Vatican City"),
    ("FK", "Falkland Islands"),
    ("VG", "British Virgin Islands"),
    ("VI", "U.S. Virgin Islands"),
    ("UM", "U.S. Minor Outlying Islands"),
    ("MF", "Saint Martin (French part)"),
    ("SX", "Sint Maarten (Dutch part)"),
    ("BN", "Brunei"),
    ("CV", "Cabo Verde"),
];

pub struct CountryInfo {
    pub alpha2: &'static str,
    pub name: String,
    /// Digits after the `+`, when the country has its own calling code.
    pub calling_code: Option<&'static str>,
}

fn fold(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c {
                'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => {
                    'a'
                }
                'ç' | 'Ç' => 'c',
                'è' | 'é' | 'ê' | 'ë' | 'É' | 'È' => 'e',
                'ì' | 'í' | 'î' | 'ï' | 'Í' => 'i',
                'ñ' | 'Ñ' => 'n',
                'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'Ö' | 'Ó' => 'o',
                'ù' | 'ú' | 'û' | 'ü' | 'Ü' | 'Ú' => 'u',
                c => c,
            };
            c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase())
        })
        .collect()
}

fn tidy(long_name: &str) -> String {
    let name = long_name.strip_prefix("The ").unwrap_or(long_name);
    name.split(' ')
        .enumerate()
        .map(|(i, w)| match w {
            "Of" | "And" | "The" | "Da" | "Du" if i > 0 => w.to_lowercase(),
            _ => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every country, sorted by display name.
pub fn countries() -> &'static [CountryInfo] {
    static LIST: OnceLock<Vec<CountryInfo>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut list: Vec<CountryInfo> = celes::Country::get_countries()
            .iter()
            .map(|c| CountryInfo {
                alpha2: c.alpha2,
                name: DISPLAY_NAMES
                    .iter()
                    .find(|(code, _)| *code == c.alpha2)
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_else(|| tidy(c.long_name)),
                calling_code: calling_code(c.alpha2),
            })
            .collect();
        list.sort_by_key(|c| fold(&c.name));
        list
    })
}

pub fn calling_code(alpha2: &str) -> Option<&'static str> {
    CALLING_CODES
        .split_whitespace()
        .find(|entry| entry.get(..2) == Some(alpha2))
        .map(|entry| &entry[2..])
}

/// The country a full number (`+` and digits) most likely belongs to: the
/// longest calling code it starts with; of several countries sharing that
/// code, `hint` (the contact's own country) when it is one of them, else the
/// country the code is best known for.
pub fn country_of_number(number: &str, hint: &str) -> Option<(&'static str, &'static str)> {
    // Where a code is shared, the country most numbers with it belong to.
    const MAIN: &[&str] = &[
        "US", "RU", "GB", "AU", "IT", "NO", "FI", "MA", "GP", "RE", "CW", "NZ",
    ];
    let digits = number.strip_prefix('+')?;
    let entries = || {
        CALLING_CODES
            .split_whitespace()
            .filter_map(|e| Some((e.get(..2)?, e.get(2..)?)))
            .filter(|(_, code)| !code.is_empty() && digits.starts_with(code))
    };
    let longest = entries().map(|(_, code)| code.len()).max()?;
    let sharing: Vec<_> = entries().filter(|(_, c)| c.len() == longest).collect();
    sharing
        .iter()
        .find(|(a, _)| *a == hint)
        .or_else(|| sharing.iter().find(|(a, _)| MAIN.contains(a)))
        .or_else(|| sharing.first())
        .copied()
}

pub fn country_name(alpha2: &str) -> Option<&'static str> {
    // Looked up for every contact a change log or an import compares: a
    // map, not a walk through 250 names.
    static BY_CODE: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    BY_CODE
        .get_or_init(|| {
            countries()
                .iter()
                .map(|c| (c.alpha2, c.name.as_str()))
                .collect()
        })
        .get(alpha2)
        .copied()
}

/// An ISO 3166-1 country by English name, alpha-2 or alpha-3 code, in any case.
pub fn parse_country(raw: &str) -> Result<&'static str, String> {
    let value = raw.trim();
    let key = fold(value);
    if key.is_empty() {
        return Err(format!("{value} is not a country"));
    }
    let found = EXTRA_NAMES
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, code)| *code)
        .or_else(|| celes::Country::from_str(&key).ok().map(|c| c.alpha2))
        .or_else(|| {
            countries()
                .iter()
                .find(|c| fold(&c.name) == key)
                .map(|c| c.alpha2)
        });
    found.ok_or_else(|| format!("{value} is not a country name or ISO code such as HK or HKG"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_both_codes_in_any_case() {
        for (input, code) in [
            ("Hong Kong", "HK"),
            ("HK", "HK"),
            ("hkg", "HK"),
            ("Japan", "JP"),
            ("GBR", "GB"),
            ("United Kingdom", "GB"),
            ("UK", "GB"),
            ("it", "IT"),
            ("Côte d'Ivoire", "CI"),
            ("Viet Nam", "VN"),
            ("united states", "US"),
        ] {
            assert_eq!(parse_country(input), Ok(code), "{input}");
        }
    }

    #[test]
    fn unknown_countries_are_refused() {
        for bad in ["Narnia", "XX", "", "  ", "Europe"] {
            assert!(parse_country(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_country_has_a_name_and_nearly_all_a_calling_code() {
        let all = countries();
        assert!(all.len() >= 249);
        assert!(all.iter().all(|c| !c.name.is_empty()));
        let without: Vec<_> = all
            .iter()
            .filter(|c| c.calling_code.is_none())
            .map(|c| c.alpha2)
            .collect();
        assert!(without.len() <= 2, "{without:?}");
        assert_eq!(calling_code("HK"), Some("852"));
        assert_eq!(calling_code("GB"), Some("44"));
        assert_eq!(country_name("GB"), Some("United Kingdom"));
        assert_eq!(country_name("NL"), Some("Netherlands"));
    }

    #[test]
    fn display_names_round_trip() {
        for c in countries() {
            assert_eq!(parse_country(&c.name), Ok(c.alpha2), "{}", c.name);
            assert_eq!(parse_country(c.alpha2), Ok(c.alpha2));
        }
    }
}
