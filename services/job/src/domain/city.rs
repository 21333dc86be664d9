//! Places: GB/T 2260 division codes, the six digits a job's `city_code` is given in.

/// Province-level prefixes of GB/T 2260 division codes (11 Beijing … 82 Macao).
const PROVINCES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

/// A six-digit division code under a known province.
pub fn known_city(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) && PROVINCES.contains(&&code[..2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_cities() {
        assert!(known_city("310000") && known_city("440300") && !known_city("990100"));
        assert!(!known_city("31000") && !known_city("31000x"));
    }
}
