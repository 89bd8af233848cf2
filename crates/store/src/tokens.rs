//! Access tokens by digest: issued, resolved and revoked; the operator credential; the
//! Page tokens derived per (Page, app, admin) and epoch.

use crate::*;
use async_trait::async_trait;
use switchboard_domain::*;

/// The digest of a Page token for an epoch: Page tokens are derived, not random, and
/// each revocation moves the epoch they are derived from. The store calls it inside
/// the transaction that reads the epoch, so the token registered is never one that
/// was revoked meanwhile.
pub type PageTokenMinter = std::sync::Arc<dyn Fn(u32) -> String + Send + Sync>;

#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Stores the operator credential's digest, and registers it as an operator token,
    /// unless an operator exists; true when stored.
    async fn init_operator(&self, token_digest: &str) -> StoreResult<bool>;
    async fn insert_token(&self, token: TokenRecord) -> StoreResult<()>;
    async fn token(&self, digest: &str) -> StoreResult<Option<TokenRecord>>;
    async fn revoke_token(&self, digest: &str) -> StoreResult<()>;
    /// Registers the Page token of (Page, app, person) for the triple's current
    /// epoch (how many times its tokens were revoked: a Page token is derived anew
    /// with each, so that none comes back to life), read in the same transaction as
    /// the insert so that a revocation cannot slip between them. Answers the epoch.
    async fn register_page_token(&self, page: &PageId, app: &AppId, person: PersonId, at: Millis, token: PageTokenMinter) -> StoreResult<u32>;
}
