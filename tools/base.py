"""Tool base: a name, a description, a pydantic args schema and an async call; convertible to LangChain."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class StudioTool:
    """A tool. `coroutine(**validated_args)` returns JSON-able data."""

    name: str
    description: str
    args_schema: type[BaseModel]
    coroutine: Callable[..., Awaitable[Any]]
    reads_only: bool = True

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"tool name {self.name!r} must match {_NAME.pattern}")

    async def ainvoke(self, args: dict[str, Any]) -> Any:
        """Validate args against the schema, then call (what an LLM agent's tool call goes through)."""
        parsed = self.args_schema.model_validate(args)
        return await self.coroutine(**parsed.model_dump())

    def as_langchain(self) -> Any:
        """The same tool as a LangChain StructuredTool (accepted by ToolNode and bind_tools). Arguments pass the
        same validation as ainvoke(); the result is returned as JSON text."""
        from langchain_core.tools import StructuredTool

        async def call(**kwargs: Any) -> str:
            result = await self.ainvoke(self.args_schema.model_validate(kwargs).model_dump())
            return orjson.dumps(result, default=str, option=orjson.OPT_SERIALIZE_NUMPY).decode()

        return StructuredTool.from_function(
            coroutine=call, name=self.name, description=self.description, args_schema=self.args_schema
        )
