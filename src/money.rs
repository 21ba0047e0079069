//! Exact money: `rust_decimal` in code, whole fen (分) in the database, decimal strings in JSON.
//! Never a float.

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

/// An amount of yuan with at most two decimal places, never negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, ToSchema)]
#[schema(value_type = String, example = "12.50")]
pub struct Money(Decimal);

#[derive(Debug, PartialEq, Eq)]
pub enum MoneyError {
    NotANumber,
    Negative,
    TooPrecise,
    TooLarge,
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MoneyError::NotANumber => "must be an amount in yuan, such as \"12.50\"",
            MoneyError::Negative => "must not be negative",
            MoneyError::TooPrecise => "must have at most two decimal places (whole fen)",
            MoneyError::TooLarge => "is too large",
        })
    }
}

/// Ten thousand billion yuan: far above any hub's budget, far below i64 fen.
const MAX_FEN: i64 = 1_000_000_000_000_000;

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    pub fn from_fen(fen: i64) -> Money {
        Money(Decimal::new(fen, 2))
    }

    pub fn fen(self) -> i64 {
        let scaled = self.0 * Decimal::ONE_HUNDRED;
        i64::try_from(scaled.trunc()).expect("checked on parse")
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }

    pub fn try_from_decimal(value: Decimal) -> Result<Money, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        if value.normalize().scale() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        if value > Decimal::new(MAX_FEN, 2) {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money(value.round_dp(2)))
    }

    /// `quantity` units at this price, exactly.
    pub fn times(self, quantity: i64) -> Option<Money> {
        let total = self.0.checked_mul(Decimal::from(quantity))?;
        Money::try_from_decimal(total).ok()
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Money, MoneyError> {
        let value = Decimal::from_str_exact(text.trim()).map_err(|_| MoneyError::NotANumber)?;
        Money::try_from_decimal(value)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount in yuan as a decimal string, such as \"12.50\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Money, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Money, E> {
                Money::try_from_decimal(Decimal::from(n)).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Money, E> {
                Money::try_from_decimal(Decimal::from(n)).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Money, E> {
                Err(E::custom("send amounts as decimal strings, such as \"12.50\", never as floating-point numbers"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_amounts_and_refuses_the_rest() {
        assert_eq!("12.5".parse::<Money>().unwrap().fen(), 1250);
        assert_eq!("0.10".parse::<Money>().unwrap().to_string(), "0.10");
        assert_eq!("500000".parse::<Money>().unwrap().to_string(), "500000.00");
        assert_eq!("1.005".parse::<Money>(), Err(MoneyError::TooPrecise));
        assert_eq!("-1".parse::<Money>(), Err(MoneyError::Negative));
        assert_eq!("abc".parse::<Money>(), Err(MoneyError::NotANumber));
        assert_eq!("1e3".parse::<Money>(), Err(MoneyError::NotANumber));
    }

    #[test]
    fn fen_round_trip_and_multiplication_are_exact() {
        for fen in [0, 1, 99, 120, 123_456_789] {
            assert_eq!(Money::from_fen(fen).fen(), fen);
        }
        let price: Money = "1.20".parse().unwrap();
        assert_eq!(price.times(3).unwrap().to_string(), "3.60");
        assert_eq!(Money::from_fen(5000).times(120).unwrap().fen(), 600_000);
    }

    #[test]
    fn json_takes_strings_and_integers_but_not_floats() {
        assert_eq!(serde_json::from_str::<Money>("\"0.30\"").unwrap().fen(), 30);
        assert_eq!(serde_json::from_str::<Money>("50").unwrap().fen(), 5000);
        assert!(serde_json::from_str::<Money>("0.3").is_err());
        assert_eq!(
            serde_json::to_string(&Money::from_fen(30)).unwrap(),
            "\"0.30\""
        );
    }
}
