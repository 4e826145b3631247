//! The state one simulator's listeners share.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use sim_kit::{RequestLog, Tokens, lock};

use crate::discovery::Discovery;
use crate::world::World;
use crate::{Config, Urls};

/// Everything a request may read or change.
pub struct App {
    pub config: Config,
    pub discovery: Arc<Discovery>,
    pub urls: Urls,
    world: Mutex<World>,
    pub log: RequestLog,
    /// token → the `iss` it was issued to.
    pub tokens: Tokens,
}

impl App {
    pub fn new(config: Config, discovery: Arc<Discovery>, urls: Urls, log: RequestLog) -> App {
        App {
            world: Mutex::new(World::new(config.delay, config.seed)),
            config,
            discovery,
            urls,
            log,
            tokens: Tokens::default(),
        }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// The world with its operations advanced to now.
    pub fn ticked(&self) -> MutexGuard<'_, World> {
        let mut w = self.world();
        w.tick(Instant::now());
        w
    }

    /// A new token, issued to `user`.
    pub fn issue(&self, user: &str) -> String {
        let token = self.world().token();
        self.tokens.issue(token.clone(), user);
        token
    }
}
