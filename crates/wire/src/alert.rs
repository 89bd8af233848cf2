//! The alert Switchboard POSTs to the operator's alert URL when an app's webhook
//! endpoint has failed for long (Meta emails the developers instead).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertNotice<'a> {
    pub id: i64,
    pub app_id: &'a str,
    /// `failing` (the alert threshold) or `disabled` (the app was unsubscribed).
    pub kind: &'a str,
    pub created_at: i64,
    pub message: &'a str,
    /// Pages the app was unsubscribed from.
    pub pages: Vec<&'a str>,
}
