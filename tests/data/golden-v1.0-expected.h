/* Written by tests/data/make_golden.c with the golden files; do not edit. */
#define GOLDEN_ROWS 4
#define GOLDEN_INPUT_DIM 8
#define GOLDEN_MIRRORED_LATENT 3
static const float golden_mirrored_first_params[16] = {
    0x1.ae1d58p-3, -0x1.8277e4p-2, 0x1.556d6cp-2, 0x1.246504p-1,
    0x1.650418p-1, 0x1.9e8ac8p-2, -0x1.701304p-1, -0x1.387d72p-1,
    -0x1.fde19p-3, -0x1.98f788p-2, 0x1.58432cp-3, 0x1.9a8ce2p-3,
    0x1.1c7064p-1, 0x1.43ad5ep-1, 0x1.54b7dcp-6, -0x1.4083bcp-7};
static const float golden_mirrored_codes[12] = {
    -0x1.da327p-6, 0x1.60a758p-2, -0x1.05f018p-4, 0x1.724d04p-2,
    -0x1.202e4p-2, -0x1.74ac3cp-3, 0x1.8966dap-4, 0x1.3d7a52p-2,
    -0x1.51015p-6, 0x1.77e5b8p-3, 0x1.164914p-4, -0x1.b1ade8p-4};
static const float golden_mirrored_outputs[32] = {
    0x1.04c3a4p-1, 0x1.01dcf2p-1, 0x1.04cbb8p-1, 0x1.d6b21p-2,
    0x1.82e506p-2, 0x1.e32ba8p-2, 0x1.227ffep-1, 0x1.099224p-1,
    0x1.11525ap-1, 0x1.15e1e4p-1, 0x1.d33204p-2, 0x1.1b8482p-1,
    0x1.ee4378p-2, 0x1.a4ff36p-2, 0x1.147bfap-1, 0x1.012998p-1,
    0x1.00f4fap-1, 0x1.066d22p-1, 0x1.fbbee8p-2, 0x1.d7b782p-2,
    0x1.87afc8p-2, 0x1.e9894p-2, 0x1.2563d4p-1, 0x1.0b50cep-1,
    0x1.096cdp-1, 0x1.0d434ap-1, 0x1.ebeb4p-2, 0x1.00867ap-1,
    0x1.af2748p-2, 0x1.c80996p-2, 0x1.1f7938p-1, 0x1.071bc6p-1};
#define GOLDEN_OPTIMIZER_LATENT 3
static const float golden_optimizer_codes_before[12] = {
    -0x1.1dae18p-4, -0x1.0d1be4p-5, 0x1.4138bp+0, -0x1.d92172p-6,
    0x1.ae74a4p-5, 0x1.e4be5p-1, -0x1.71c1ap-3, -0x1.5d556cp-4,
    0x1.ba88f4p-1, 0x1.9e118cp-4, 0x1.33402cp-3, 0x1.70781ep+0};
static const double golden_optimizer_loss_before_step = 0x1.6407c3b06p-3;
static const float golden_optimizer_codes_after_step[12] = {
    -0x1.0f8a78p-5, -0x1.094864p-4, 0x1.45e1f6p+0, -0x1.412626p-7,
    0x1.b221cp-6, 0x1.f6532p-1, -0x1.28822ap-3, -0x1.a62d58p-4,
    0x1.ccb99ep-1, 0x1.0ec1e6p-3, 0x1.c1fce8p-4, 0x1.73d896p+0};
