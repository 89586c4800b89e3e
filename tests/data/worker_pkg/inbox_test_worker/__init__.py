"""A worker that counts the words of its input, reporting progress as it goes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agent_runner.kinds import Context, Worker


class CountInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="What to count the words of.")
    steps: int = Field(default=2, ge=1, le=10, description="How many progress reports to give.")


def count(given: CountInput, context: Context) -> str:
    for step in range(1, given.steps + 1):
        context.progress(step / given.steps, f"step {step} of {given.steps}")
    event = context.event["name"] if context.event else "none"
    return f"{len(given.text.split())} words (session {context.session}, event {event}, run {context.message_id})"


count_words = Worker(input=CountInput, run=count, description="Count the words of a text.")
not_a_worker = "a string is not a worker"
