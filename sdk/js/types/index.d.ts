// Types of the package entry point. The assignment SDK's are in assignment.d.ts.
export * from "./assignment.js";
