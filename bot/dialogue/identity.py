"""Who is writing: the channel identity resolved to a CRM customer, and how sure we are."""

from __future__ import annotations

import logging

from bot.dialogue.messages import InboundMessage
from bot.dialogue.state import ConversationState
from crm_store.records import CustomerRecord
from crm_store.store import CrmStore
from crm_store.turns import TurnOpening

log = logging.getLogger(__name__)

NEW_CONTACT = "New contact"  # the name of a lead created from an unknown identity


async def recognise(
    store: CrmStore, message: InboundMessage, state: ConversationState, opening: TurnOpening
) -> CustomerRecord:
    """The customer behind the message (found or created by `store.turns.open`), with what the
    conversation state knows about them brought up to date.

    Verification only ever goes up within a conversation: a proof from the channel (signed web
    identity, Telegram contact) marks the identity verified in the CRM and links a proven phone
    number to the customer who already owns it.

    A channel whose proof lasts one session (the phone: caller ids can be forged, so a birth
    date confirmed on one call proves nothing about the next) names the session in
    `metadata["session"]`; a new session starts unverified, whatever the CRM says.
    """
    session = message.metadata.get("session")
    session = str(session)[:128] if session is not None else None
    customer = opening.customer
    if opening.identity_verified is not None:  # new to this conversation
        state.customer_id = customer.id
        state.verified = opening.identity_verified and session is None
        state.language = customer.language
        if opening.created:
            log.info("new lead %s for %s", customer.id, message.conversation_id)
    if session is not None and session != state.session:
        state.session, state.verified = session, False
    if message.verified_phone:
        customer = await store.customers.link_verified_phone(
            message.channel, message.sender_id, message.verified_phone
        )
        state.customer_id, state.verified = customer.id, True
    elif message.verified and not state.verified:
        await store.customers.verify_identity(message.channel, message.sender_id)
        state.verified = True
    return customer
