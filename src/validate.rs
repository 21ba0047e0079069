//! Field-by-field input checks that collect every problem before answering, so a user fixes a
//! form once rather than one error per submit.

use chrono::NaiveDate;

use crate::{
    error::{AppError, FieldError},
    money::{Money, MoneyError},
};

#[derive(Default)]
pub struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new() -> Self {
        Fields::default()
    }

    pub fn push(&mut self, field: &str, code: &'static str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    /// Trimmed, non-empty, at most `max` characters.
    pub fn required_text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.push(field, "required", "must not be empty");
        } else if value.chars().count() > max {
            self.push(
                field,
                "too_long",
                format!("must be at most {max} characters"),
            );
        }
        value.to_owned()
    }

    /// Trimmed; empty means absent.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        if value.chars().count() > max {
            self.push(
                field,
                "too_long",
                format!("must be at most {max} characters"),
            );
        }
        Some(value.to_owned())
    }

    pub fn range_i64(
        &mut self,
        field: &str,
        value: Option<i64>,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        if let Some(v) = value {
            if v < min || v > max {
                self.push(
                    field,
                    "out_of_range",
                    format!("must be between {min} and {max}"),
                );
            }
        }
        value
    }

    pub fn range_f64(&mut self, field: &str, value: f64, min: f64, max: f64) -> f64 {
        if !(min..=max).contains(&value) {
            self.push(
                field,
                "out_of_range",
                format!("must be between {min} and {max}"),
            );
        }
        value
    }

    /// A whole number typed in a form; empty means absent.
    pub fn form_int(&mut self, field: &str, text: &str) -> Option<i64> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let parsed = text.replace(',', "").parse().ok();
        if parsed.is_none() {
            self.push(field, "invalid", "must be a whole number");
        }
        parsed
    }

    /// An amount of yuan typed in a form; empty means absent.
    pub fn form_money(&mut self, field: &str, text: &str) -> Option<Money> {
        match text.trim() {
            "" => None,
            text => text
                .parse()
                .map_err(|e: MoneyError| self.push(field, "invalid", e.to_string()))
                .ok(),
        }
    }

    /// A date typed in a form (2020-02-12, or 2020/02/12 as spreadsheets write it).
    pub fn form_date(&mut self, field: &str, text: &str) -> Option<NaiveDate> {
        match text.trim() {
            "" => None,
            text => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(text, "%Y/%m/%d"))
                .map_err(|_| self.push(field, "invalid", "write dates as 2020-02-12"))
                .ok(),
        }
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_text_becomes_typed_values_or_named_errors() {
        let mut f = Fields::new();
        assert_eq!(f.form_int("a", " 1,900 "), Some(1900));
        assert_eq!(f.form_int("b", ""), None);
        assert_eq!(f.form_money("c", "12.50").map(Money::fen), Some(1250));
        assert_eq!(
            f.form_date("d", "2020/02/12"),
            NaiveDate::from_ymd_opt(2020, 2, 12)
        );
        assert!(f.is_empty());
        f.form_int("e", "many");
        f.form_money("f", "1.005");
        f.form_date("g", "tomorrow");
        let fields: Vec<_> = f.into_errors().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["e", "f", "g"]);
    }

    #[test]
    fn collects_every_problem() {
        let mut f = Fields::new();
        f.required_text("name", "  ", 10);
        f.required_text("district", "abcdefghijk", 10);
        f.range_i64("households", Some(-1), 0, 10);
        match f.finish() {
            Err(AppError::Validation(errors)) => {
                let names: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
                assert_eq!(
                    names,
                    [
                        ("name", "required"),
                        ("district", "too_long"),
                        ("households", "out_of_range")
                    ]
                );
            }
            other => panic!("expected validation error, got {other:?}"),
        }
    }
}
