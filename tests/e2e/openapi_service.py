"""A small REST service with its real OpenAPI document (FastAPI serves it at /openapi.json),
for the OpenAPI -> MCP test (crates/strata/tests/cli/openapi_mcp.rs, driven by openapi_mcp.py).

Usage: python openapi_service.py PORT

It keeps every request it receives (method, raw path and query as sent, Authorization) and
shows them at GET /_seen, which is not in its document: the test reads it to prove what
reached the service and what did not.
"""

import sys
from typing import Optional

import uvicorn
from fastapi import FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field

app = FastAPI(title="Inventory", version="1.0.0")
SEEN = []


@app.middleware("http")
async def record(request: Request, call_next):
    if request.url.path not in ("/openapi.json", "/_seen"):
        target = request.scope.get("raw_path", b"").decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        SEEN.append(
            {
                "method": request.method,
                "target": target + ("?" + query if query else ""),
                "host": request.headers.get("host"),
                "authorization": request.headers.get("authorization"),
            }
        )
    return await call_next(request)


class NewItem(BaseModel):
    name: str = Field(min_length=1, description="What the item is called")
    price: float = Field(ge=0, description="Its price in euros")
    tags: list[str] = []


class Item(NewItem):
    id: str


ITEMS = {"w1": Item(id="w1", name="widget", price=2.5, tags=["tools"])}


@app.get("/items/{item_id}", response_model=Item, operation_id="get_item", tags=["items"], summary="Read an item")
def get_item(item_id: str):
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail=f"no item {item_id}")
    return ITEMS[item_id]


@app.get("/items", response_model=list[Item], operation_id="list_items", tags=["items"], summary="List items")
def list_items(tag: Optional[str] = None, limit: int = Query(10, ge=1, le=100)):
    items = [i for i in ITEMS.values() if tag is None or tag in i.tags]
    return items[:limit]


@app.post("/items", response_model=Item, status_code=201, operation_id="create_item", tags=["items"], summary="Create an item")
def create_item(item: NewItem):
    new = Item(id=f"i{len(ITEMS) + 1}", **item.model_dump())
    ITEMS[new.id] = new
    return new


@app.delete("/items/{item_id}", status_code=204, operation_id="delete_item", tags=["admin"], summary="Delete an item")
def delete_item(item_id: str):
    ITEMS.pop(item_id, None)


@app.get("/_seen", include_in_schema=False)
def seen():
    return SEEN


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
