// Compiled with contract.ts under `tsc --strict` (tests/integration/contract_types.rs): the
// generated types fit what a product app writes against them.
import type { LoginMutation, LoginMutationVariables } from "./contract";

export const variables: LoginMutationVariables = {
  input: { tenant: "acme.example.com", email: "owner@acme.example.com", password: "secret" },
};

// null when the tenant's policy asks for a second factor first (login.mfaRequired).
export function accessToken(answer: LoginMutation): string | null {
  return answer.login.accessToken ?? null;
}
