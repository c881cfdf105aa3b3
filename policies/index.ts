import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

// Constructing the pack starts @pulumi/policy's analyzer server and prints its port: the Pulumi
// CLI runs this file for `pulumi preview --policy-pack policies` and `pulumi up --policy-pack policies`.
new PolicyPack("cartie-guard", {
    description: "Blocks missing and plaintext secrets and unsafe changes to the Cartie platform",
    enforcementLevel: "mandatory",
    policies,
});
