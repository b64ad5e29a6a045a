// Types of @splitlab/sdk: the client (client.d.ts) and the assignment SDK it is built on
// (assignment.d.ts).
export * from "./assignment.js";
export * from "./client.js";
