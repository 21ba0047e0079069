//! Pagination of list endpoints: page numbers from 1, 50 records per page by default, at most 200.

/// One page of a list, from the `page` and `per_page` query parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub page: i64,
    pub per_page: i64,
}

impl Window {
    pub fn new(page: Option<i64>, per_page: Option<i64>) -> Window {
        Window {
            page: page.unwrap_or(1).max(1),
            per_page: per_page.unwrap_or(50).clamp(1, 200),
        }
    }

    /// Rows to skip for this page.
    pub fn offset(self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn pages_start_at_one_and_are_bounded() {
        assert_eq!(
            Window::new(None, None),
            Window {
                page: 1,
                per_page: 50
            }
        );
        assert_eq!(
            Window::new(Some(0), Some(1000)),
            Window {
                page: 1,
                per_page: 200
            }
        );
        assert_eq!(Window::new(Some(3), Some(4)).offset(), 8);
    }
}
