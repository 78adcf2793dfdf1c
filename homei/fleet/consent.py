"""The owner's consent to a rollout that asks for it (hawkBit's confirmationBase): the action
waits in SQLite until an admin confirms or denies it, and the answer goes back as DDI
confirmation feedback."""

from __future__ import annotations

from homei.core.errors import Conflict, NotFound
from homei.core.events import EventBus
from homei.fleet.actions import ActionState, ActionStore, FleetAction
from homei.fleet.ddi import Confirmation, DdiClient
from homei.fleet.deploy import pick_artefact

WAITING = "Waiting for the owner's consent"


async def ask_consent(actions: ActionStore, events: EventBus, confirmation: Confirmation) -> None:
    """Record an action that waits for the owner's consent (once)."""
    if await actions.get(confirmation.id) is not None:
        return
    found = pick_artefact(confirmation.confirmation)
    await actions.put(
        confirmation.id,
        "confirmation",
        ActionState.AWAITING_CONFIRMATION,
        artefact=found[0].filename if found else None,
        version=found[1] if found else None,
        message=WAITING,
    )
    events.publish(
        "fleet:action",
        {"action": confirmation.id, "state": str(ActionState.AWAITING_CONFIRMATION),
         "message": WAITING},
    )  # fmt: skip


async def answer_consent(
    actions: ActionStore,
    events: EventBus,
    ddi: DdiClient | None,
    action_id: str,
    confirmed: bool,
    actor: str,
) -> FleetAction:
    """Send the owner's consent (or refusal) as DDI confirmation feedback."""
    action = await actions.get(action_id)
    if action is None:
        raise NotFound(f"No fleet action '{action_id}'", {"action": action_id})
    if action.state != ActionState.AWAITING_CONFIRMATION:
        raise Conflict(
            f"Fleet action '{action_id}' does not wait for consent",
            {"action": action_id, "state": str(action.state)},
        )
    if ddi is None:
        raise Conflict("The fleet client is not running", {"action": action_id})
    answer = "confirmed" if confirmed else "denied"
    text = f"{answer.capitalize()} by {actor}"
    await ddi.feedback(
        action_id, {"confirmation": answer, "code": 0, "details": [text]}, "confirmationBase"
    )
    events.publish(
        "fleet:feedback",
        {"action": action_id, "kind": "confirmationBase", "execution": answer,
         "finished": "none", "details": [text]},
    )  # fmt: skip
    if confirmed:
        # The deployment that follows is offered as deploymentBase, under the same id.
        state = ActionState.DOWNLOADING
        await actions.update(action_id, kind="deployment", state=state, message=text)
    else:
        state = ActionState.DENIED
        await actions.update(action_id, state=state, message=text, reported=1)
    events.publish("fleet:action", {"action": action_id, "state": str(state), "message": text})
    refreshed = await actions.get(action_id)
    assert refreshed is not None
    return refreshed
