//! Field-by-field input checks that collect every problem before answering, so a user fixes a
//! form once rather than one error per submit.

use crate::error::{AppError, FieldError};

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
