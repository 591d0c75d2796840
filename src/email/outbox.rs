//! The local outbox: nothing leaves the machine; each email is rendered and kept for the
//! API to show.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Composer, Delivery, Outgoing, TestAnswer, Transport};
use crate::domain::MailRoute;

pub struct Outbox {
    composer: Arc<Composer>,
}

impl Outbox {
    pub fn new(composer: Arc<Composer>) -> Self {
        Self { composer }
    }
}

impl Transport for Outbox {
    fn route(&self) -> MailRoute {
        MailRoute::Outbox
    }

    fn batch_limit(&self) -> usize {
        1
    }

    fn send_batch<'a>(&'a self, batch: &'a [Outgoing]) -> BoxFuture<'a, Vec<Delivery>> {
        let kept = batch
            .iter()
            .map(|email| Delivery::Accepted {
                message_id: None,
                kept: Some(self.composer.render(&email.values)),
            })
            .collect();
        Box::pin(std::future::ready(kept))
    }

    fn send_test<'a>(&'a self, email: &'a Outgoing) -> BoxFuture<'a, TestAnswer> {
        Box::pin(std::future::ready(TestAnswer {
            accepted: true,
            response: "stored in the local outbox; nothing left this machine".into(),
            kept: Some(self.composer.render(&email.values)),
            ..TestAnswer::default()
        }))
    }
}
