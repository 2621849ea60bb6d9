# The part of dockerfile-parse (untyped, no stubs published) that depslim uses.
from typing import IO, TypedDict

class Instruction(TypedDict):
    instruction: str  # upper-case keyword, or "COMMENT"
    startline: int  # 0-based
    endline: int
    content: str
    value: str

class DockerfileParser:
    def __init__(
        self,
        path: str | None = None,
        cache_content: bool = False,
        env_replace: bool = True,
        parent_env: dict[str, str] | None = None,
        fileobj: IO[bytes] | None = None,
        build_args: dict[str, str] | None = None,
    ) -> None: ...
    @property
    def structure(self) -> list[Instruction]: ...
