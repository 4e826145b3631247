//! The state one simulator's listeners share.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::Value;
use sim_kit::{RequestLog, Tokens, lock};

use crate::discovery::Discovery;
use crate::world::World;
use crate::{Config, Urls};

/// Everything a request may read or change; a running simulator's [`crate::Handle`] derefs
/// to it.
pub struct App {
    pub(crate) config: Config,
    pub(crate) discovery: Arc<Discovery>,
    pub(crate) urls: Urls,
    world: Mutex<World>,
    pub(crate) log: RequestLog,
    /// token → the `iss` it was issued to.
    pub(crate) tokens: Tokens,
}

impl App {
    pub(crate) fn new(
        config: Config,
        discovery: Arc<Discovery>,
        urls: Urls,
        log: RequestLog,
    ) -> App {
        App {
            world: Mutex::new(World::new(config.delay, config.seed)),
            config,
            discovery,
            urls,
            log,
            tokens: Tokens::default(),
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// The world with its operations advanced to now.
    pub(crate) fn ticked(&self) -> MutexGuard<'_, World> {
        let mut w = self.world();
        w.tick(Instant::now());
        w
    }

    /// Issues a token directly (for tests that do not exercise `/token`).
    pub fn issue_token(&self, user: &str) -> String {
        let token = self.world().token();
        self.tokens.issue(token.clone(), user);
        token
    }

    /// Everything the simulator holds (the body of `GET /_sim/objects`).
    pub fn objects(&self) -> Value {
        self.ticked().dump()
    }
}
