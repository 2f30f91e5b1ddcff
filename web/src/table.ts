// The users table: one row per user with its actions; text only, never markup from the API.
import type { User } from "../../gen/ts/user/v1/user_pb.js";

export interface RowActions {
  edit(user: User): void;
  remove(user: User): void;
}

function cell(text: string, className = ""): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function button(label: string, accessibleName: string, onClick: () => void): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.setAttribute("aria-label", accessibleName);
  element.addEventListener("click", onClick);
  return element;
}

function row(user: User, actions: RowActions): HTMLTableRowElement {
  const tr = document.createElement("tr");
  tr.dataset.name = user.name;
  const buttons = cell("", "actions");
  buttons.append(
    button("Edit", `Edit ${user.name}`, () => actions.edit(user)),
    " ",
    button("Delete", `Delete ${user.name}`, () => actions.remove(user)),
  );
  tr.append(cell(user.name), cell(user.displayName), cell(user.email), cell(user.etag, "etag"), buttons);
  return tr;
}

export function renderUsers(body: HTMLTableSectionElement, users: User[], actions: RowActions): void {
  if (users.length === 0) {
    const empty = cell("No users on this page.");
    empty.colSpan = 5;
    const tr = document.createElement("tr");
    tr.append(empty);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...users.map((user) => row(user, actions)));
}
