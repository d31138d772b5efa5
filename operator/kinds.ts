/**
 * The kinds the operator watches: its own resources and the kinds it creates for them. One table, so the
 * informers, the clean-up of objects a pool no longer needs, and the chart's RBAC (helm/durable) agree.
 */
export interface KindInfo {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  /** Not every cluster serves it (KEDA): watched only when discovery lists it. */
  readonly optional?: boolean;
}

export const OWNED_KINDS: readonly KindInfo[] = [
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', plural: 'rolebindings' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers' },
  { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', plural: 'scaledobjects', optional: true },
];

/** The REST path of a kind's collection, in one namespace or (no namespace) in all. */
export function collectionPath(info: Pick<KindInfo, 'apiVersion' | 'plural'>, namespace?: string): string {
  const base = info.apiVersion.includes('/') ? `/apis/${info.apiVersion}` : `/api/${info.apiVersion}`;
  return namespace ? `${base}/namespaces/${namespace}/${info.plural}` : `${base}/${info.plural}`;
}
