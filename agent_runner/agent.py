"""One model run: the conversation so far, the task, and the tool loop until the model gives its answer.

The model may call tools; each call is applied (scheduling tools by the host, sandbox tools here) and its real
result, or an error it can act on, goes back to the model, for at most ``MAX_STEPS`` rounds. The exchange (the
user turn, tool calls and results, the answer) is reported with the result and kept in the run's conversation.
When the conversation outgrows its token budget, its older turns are first summarized by the model.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from agent_runner.client import HostClient
from agent_runner.conversation import ChatTurn, ModelReply, ProviderError, ToolCall, ToolSpec
from agent_runner.prompt import SILENCE, system_prompt, user_text
from agent_runner.protocol import HistoryReply, ModelRequest, ToolRequest, WorkItem
from agent_runner.sandbox_tools import SANDBOX_TOOLS, run_sandbox_tool

MAX_STEPS = 8
# A summary the provider rejected for itself (too long, malformed answer) leaves the run to go on without one;
# any other failure (provider down, credentials, unknown model) would fail the run's own request too, so it is not
# sent: no request is made that cannot work.
SUMMARY_FALLBACK_KINDS = frozenset({"bad_request", "bad_response"})
SUMMARY_PROMPT = (
    "Summarize the conversation below for your own later use: facts, decisions, open questions, and any task "
    "ids mentioned. Be brief; plain text."
)


@dataclass
class Exchange:
    """What the run produced, for its RunResult."""

    text: str = ""
    new_turns: list[ChatTurn] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    summary: str | None = None
    summary_through: str | None = None

    def count(self, reply: ModelReply) -> None:
        self.input_tokens += reply.usage.input_tokens
        self.output_tokens += reply.usage.output_tokens


def _tokens(turns: list[ChatTurn]) -> int:
    return sum(len(t.text) // 4 + 4 + sum(len(json.dumps(c.arguments)) // 4 for c in t.tool_calls) for t in turns)


def _clean_start(turns: list[ChatTurn]) -> list[ChatTurn]:
    """A conversation sent to a model starts with a user turn (no orphaned tool results or answers)."""
    while turns and turns[0].role != "user":
        turns = turns[1:]
    return turns


class AgentRun:
    def __init__(self, item: WorkItem, host: HostClient, *, sandboxed: bool, workspace: str | None) -> None:
        self.item = item
        self.host = host
        self.workspace = workspace
        self.host_tools = frozenset(tool.name for tool in item.tools)  # what the host offers and applies
        self.tools: tuple[ToolSpec, ...] = (*item.tools, *(SANDBOX_TOOLS if sandboxed and workspace else ()))
        self.out = Exchange()

    def _request(self, **fields: Any) -> ModelRequest:
        """A model turn for this attempt of the item: the host answers and counts it only while the lease holds."""
        item = self.item
        return ModelRequest(
            message_id=item.id, attempt=item.attempt, model=item.model, provider=item.provider, **fields
        )

    def _ask(self, request: ModelRequest, deadline: float | None) -> ModelReply:
        budget = 300.0 if deadline is None else deadline - time.monotonic()
        if budget <= 0:
            raise ProviderError("the run's time is up", kind="timeout")
        reply = self.host.model(request, timeout_s=budget)
        self.out.count(reply)
        return reply

    def _fit(self, past: HistoryReply, deadline: float | None) -> tuple[str | None, list[ChatTurn]]:
        """The summary and turns to send, summarizing older turns first when they are over the budget."""
        turns = list(past.turns)
        if _tokens(turns) <= past.budget_tokens or past.newest_id is None:
            return past.summary, _clean_start(turns)
        transcript = "\n".join(f"{t.role}: {t.text}" for t in turns if t.text)
        if past.summary:
            transcript = f"(earlier) {past.summary}\n{transcript}"
        try:
            reply = self._ask(
                self._request(system=SUMMARY_PROMPT, turns=[ChatTurn(role="user", text=transcript)], max_tokens=800),
                deadline,
            )
        except ProviderError as exc:
            if exc.kind not in SUMMARY_FALLBACK_KINDS:
                raise  # the provider is down or refuses this task: the turn itself would fail the same way
            keep: list[ChatTurn] = []  # no summary now: send the newest turns that fit, try again next run
            for turn in reversed(turns):
                if _tokens([*keep, turn]) > past.budget_tokens:
                    break
                keep.insert(0, turn)
            return past.summary, _clean_start(keep)
        self.out.summary, self.out.summary_through = reply.text.strip(), past.newest_id
        return self.out.summary, []

    def _call_tool(self, call: ToolCall) -> ChatTurn:
        try:
            if call.name in self.host_tools:
                answer = self.host.tool(ToolRequest(name=call.name, arguments=call.arguments, message_id=self.item.id))
                body: Any = answer.result if answer.ok else {"error": answer.error}
                ok = answer.ok
            elif call.name in {t.name for t in self.tools} and self.workspace:
                body, ok = run_sandbox_tool(self.workspace, call.name, call.arguments), True
            else:
                body, ok = {"error": f"unknown tool {call.name!r}"}, False
        except (KeyError, TypeError, ValueError, OSError) as exc:
            body, ok = {"error": f"{type(exc).__name__}: {exc}"}, False
        text = json.dumps(body, ensure_ascii=False, default=str)
        return ChatTurn(role="tool", tool_call_id=call.id, text=text, is_error=not ok)

    def run(self, script_data: Any, *, has_script_data: bool, deadline: float | None, now: Any) -> Exchange:
        past = self.item.history or self.host.history(self.item.id)  # it came with the claim, or ask
        summary, turns = self._fit(past, deadline)
        system = system_prompt(self.item, now)
        if summary:
            system += f"\n\nEarlier conversation, summarized:\n{summary}"
        start = len(turns)
        turns.append(ChatTurn(role="user", text=user_text(self.item, script_data, has_script_data=has_script_data)))
        for _ in range(MAX_STEPS):
            reply = self._ask(self._request(system=system, turns=turns, tools=list(self.tools)), deadline)
            turns.append(ChatTurn(role="assistant", text=reply.text, tool_calls=reply.tool_calls))
            if not reply.tool_calls:
                self.out.text = reply.text.strip()
                break
            turns.extend(self._call_tool(call) for call in reply.tool_calls)
        else:
            self.out.text = (reply.text.strip() + f"\n(stopped after {MAX_STEPS} rounds of tool calls)").strip()
        self.out.new_turns = turns[start:]
        return self.out


def is_silence(text: str) -> bool:
    return text.strip() == SILENCE
